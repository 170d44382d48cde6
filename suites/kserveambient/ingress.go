package kserveambient

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

// KEP-2676's ingress: one Gateway API Gateway of class istio, the model's
// HTTPRoute in user1, and an opt-out route whose Service skips the
// waypoint (fixtures/kserveambient/ingress.yaml).

// IngressFixture holds the ingress Gateway, its parameters, its ALLOW
// policy, the routes and the opt-out Service.
const IngressFixture = "kserveambient/ingress.yaml"

const (
	// IngressGateway is the Gateway in istio-system. istiod names the
	// Deployment, Service and ServiceAccount it makes of a Gateway of class
	// istio <gateway>-istio (Istio 1.27.1 getDefaultName).
	IngressGateway          = "ambient-ingressgateway"
	IngressGatewayNamespace = "istio-system"
	// IngressPrincipal is the gateway's identity, the principal
	// ns-owner-access-istio admits with the owner's header.
	IngressPrincipal = "cluster.local/ns/" + IngressGatewayNamespace + "/sa/" + IngressGateway + "-istio"
	// IngressNodePort is the HTTP listener's node port (the Gateway's
	// parametersRef ConfigMap), published by kind-config/kserveambient.yaml.
	IngressNodePort = 30080
	// IngressHost routes to the predictor's Service; SkipWaypointHost to
	// the opt-out Service on the same pods.
	IngressHost      = "sklearn-iris-user1.example.com"
	SkipWaypointHost = "sklearn-iris-skip-waypoint-user1.example.com"
	// IngressUseWaypointLabel sends an ingress gateway's requests for a
	// Service to its waypoint (on the namespace, or on the Service, which
	// wins).
	IngressUseWaypointLabel = "istio.io/ingress-use-waypoint"
	// UserIDHeader carries the user the profile's policy admits;
	// OwnerUserID is user1's owner in ns-owner-access-istio.
	UserIDHeader = "kubeflow-userid"
	OwnerUserID  = "user1@example.com"
	OtherUserID  = "user2@example.com"
)

// IngressRequest is the model's status through the ingress at addr
// (HOST:PORT as this machine reaches it) for a routed host, as the user
// userID ("": no header).
func IngressRequest(addr, host, userID string) probe.Request {
	r := harness.HostRequest("http", host, addr, "/v1/models/"+SklearnIris)
	if userID != "" {
		r.Headers = map[string]string{UserIDHeader: userID}
	}
	return r
}

// Why each ingress cell answers as it does, per mode.
const (
	IngressOwnerAmbient = "ambient: user1 carries istio.io/ingress-use-waypoint=true, so the gateway sends to user1's waypoint, whose " +
		"ns-owner-access-istio admits the gateway's principal (" + IngressPrincipal + ") with kubeflow-userid user1@example.com"
	IngressOwnerSidecar = "sidecar: the gateway reaches the predictor's sidecar over mTLS as " + IngressPrincipal +
		"; ns-owner-access-istio admits it with kubeflow-userid user1@example.com"
	IngressRefusedAmbient = "ambient: through user1's waypoint, whose ns-owner-access-istio admits the gateway only with the owner's " +
		"kubeflow-userid: the waypoint's 403, passed on by the gateway"
	IngressRefusedSidecar = "sidecar: the predictor's sidecar enforces ns-owner-access-istio, which admits the gateway only with the " +
		"owner's kubeflow-userid: 403, passed on by the gateway"
	SkipWaypointAmbient = "ambient: the opt-out Service's istio.io/ingress-use-waypoint=false wins over the namespace's, so the gateway " +
		"goes straight to the predictor's ztunnel, whose allow-waypoint (under global-deny-all) admits only the waypoint's identity: " +
		"ztunnel refuses the gateway's connection and the gateway answers 503 (Envoy's upstream reset); a 2xx is the waypoint skipped"
	SkipWaypointSidecar = "sidecar: no waypoint to skip (the label is ambient's): the predictor's sidecar admits the gateway with the owner's kubeflow-userid"
)

// Ingress is the design's ingress as a user outside the cluster meets it,
// through addr: the owner is served, another user and a request without
// the header are refused with a 403 (by the waypoint in ambient mode, by
// the predictor's sidecar in sidecar mode); the owner through the opt-out
// route is refused in ambient mode (ztunnel admits the waypoint only) and
// served in sidecar mode.
func Ingress(mode dataplane.Mode, addr string) matrix.Matrix {
	owner := matrix.Expect(matrix.Allowed).WithBody(`"ready":true`).WithNote(IngressOwnerAmbient)
	refused := denied403(IngressRefusedAmbient)
	skip := matrix.Expect(matrix.AnyRefusal).WithBody(matrix.EnvoyUpstreamReset).WithNote(SkipWaypointAmbient)
	if mode == dataplane.Sidecar {
		owner = owner.WithNote(IngressOwnerSidecar)
		refused = denied403(IngressRefusedSidecar)
		skip = matrix.Expect(matrix.Allowed).WithBody(`"ready":true`).WithNote(SkipWaypointSidecar)
	}
	return matrix.Matrix{Name: "kserveambient-ingress", Cells: []matrix.Cell{
		{Name: "host-owner-to-sklearn-iris-status", Client: harness.ClientHost, Request: IngressRequest(addr, IngressHost, OwnerUserID), Expect: owner},
		{Name: "host-other-user-to-sklearn-iris-status", Client: harness.ClientHost, Request: IngressRequest(addr, IngressHost, OtherUserID), Expect: refused},
		{Name: "host-no-user-to-sklearn-iris-status", Client: harness.ClientHost, Request: IngressRequest(addr, IngressHost, ""), Expect: refused},
		{Name: "host-owner-skipping-waypoint-to-sklearn-iris-status", Client: harness.ClientHost, Request: IngressRequest(addr, SkipWaypointHost, OwnerUserID), Expect: skip},
	}}
}

// ingressFeature probes the design's ingress from the test machine,
// through the address the Gateway has outside the cluster: the host port
// kind published the HTTP node port on, or --ingress-address. Extended: a
// cluster whose ingress this machine cannot reach does not claim it.
var ingressFeature = harness.Feature{
	Name: "ingress", Kind: harness.KindMatrix, Support: harness.Extended, ClaimedOnOwnCluster: true,
	Manifests: []string{IngressFixture, "kserveambient/auth.ambient.yaml", "kserveambient/auth.sidecar.yaml", WaypointFixture},
	Matrices: func(ctx context.Context, o options.Options, f harness.Facts) ([]matrix.Matrix, error) {
		addr, err := harness.HostIngress(ctx, o, f, IngressNodePort)
		if err != nil {
			return nil, err
		}
		return []matrix.Matrix{Ingress(o.Mode, addr)}, nil
	},
}

// ingressStep applies the ingress and waits until istiod has programmed
// the Gateway (its Deployment and Service made). On a cluster not the
// suite's own the node port is the API server's to choose, as the
// installer leaves the gateway release's (--ingress-address names the
// way in).
func ingressStep(o options.Options) harness.Step {
	limit := o.Timeouts.ReadyTimeout
	return harness.Step{Name: "ingress", Limit: limit, Run: func(ctx context.Context, e *harness.Env) error {
		objs, err := loadIngress(e.Opts.OwnKindCluster())
		if err != nil {
			return err
		}
		if err := e.Apply.Apply(ctx, objs...); err != nil {
			return err
		}
		if err := ready.Condition(ctx, e.Apply.Dynamic.Resource(Gateways).Namespace(IngressGatewayNamespace), IngressGateway, "Programmed", limit); err != nil {
			return fmt.Errorf("ingress Gateway %s/%s: %w", IngressGatewayNamespace, IngressGateway, err)
		}
		return nil
	}}
}

// loadIngress loads the ingress's objects, without the node port pins off
// the suite's own kind cluster.
func loadIngress(ownCluster bool) ([]*unstructured.Unstructured, error) {
	objs, err := fixtures.Load(IngressFixture)
	if err != nil || ownCluster {
		return objs, err
	}
	for _, o := range objs {
		if o.GetKind() != "ConfigMap" {
			continue
		}
		if err := unpinNodePorts(o); err != nil {
			return nil, fmt.Errorf("%s: ConfigMap %s: %w", IngressFixture, o.GetName(), err)
		}
	}
	return objs, nil
}

// unpinNodePorts drops nodePort from the ports of a gateway parameters
// ConfigMap's service overlay.
func unpinNodePorts(cm *unstructured.Unstructured) error {
	overlay, found, _ := unstructured.NestedString(cm.Object, "data", "service")
	if !found {
		return nil
	}
	var svc map[string]any
	if err := yaml.Unmarshal([]byte(overlay), &svc); err != nil {
		return err
	}
	ports, _, _ := unstructured.NestedSlice(svc, "spec", "ports")
	for _, p := range ports {
		if m, ok := p.(map[string]any); ok {
			delete(m, "nodePort")
		}
	}
	if len(ports) > 0 {
		if err := unstructured.SetNestedSlice(svc, ports, "spec", "ports"); err != nil {
			return err
		}
	}
	out, err := yaml.Marshal(svc)
	if err != nil {
		return err
	}
	return unstructured.SetNestedField(cm.Object, string(out), "data", "service")
}
