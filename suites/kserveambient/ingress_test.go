package kserveambient

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/secure-inference/mesh-conformance/tests/cluster"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// The owner is served and the others refused with a 403 in both modes;
// the opt-out route is refused in ambient mode (the gateway's 503 for
// ztunnel's refusal, nothing else) and served with sidecars.
func TestIngressPerMode(t *testing.T) {
	assert.Equal(t, map[string]matrix.ExpectKind{
		"host-owner-to-sklearn-iris-status": matrix.Allowed, "host-other-user-to-sklearn-iris-status": matrix.DeniedHTTP403,
		"host-no-user-to-sklearn-iris-status": matrix.DeniedHTTP403, "host-owner-skipping-waypoint-to-sklearn-iris-status": matrix.AnyRefusal,
	}, kinds(Ingress(dataplane.Ambient, "127.0.0.1:41234")))
	assert.Equal(t, map[string]matrix.ExpectKind{
		"host-owner-to-sklearn-iris-status": matrix.Allowed, "host-other-user-to-sklearn-iris-status": matrix.DeniedHTTP403,
		"host-no-user-to-sklearn-iris-status": matrix.DeniedHTTP403, "host-owner-skipping-waypoint-to-sklearn-iris-status": matrix.Allowed,
	}, kinds(Ingress(dataplane.Sidecar, "127.0.0.1:41234")))

	cells := map[string]matrix.Cell{}
	for _, c := range Ingress(dataplane.Ambient, "127.0.0.1:41234").Cells {
		cells[c.Name] = c
		assert.Equal(t, harness.ClientHost, c.Client, "%s runs on this machine", c.Name)
	}
	assert.Equal(t, matrix.EnvoyUpstreamReset, cells["host-owner-skipping-waypoint-to-sklearn-iris-status"].Expect.BodyContains,
		"the gateway's 503, not any refusal")
	owner := cells["host-owner-to-sklearn-iris-status"].Request
	assert.Equal(t, "http://sklearn-iris-user1.example.com:41234/v1/models/sklearn-iris", owner.URL)
	assert.Equal(t, []string{"sklearn-iris-user1.example.com:41234:127.0.0.1"}, owner.Resolve)
	assert.Equal(t, map[string]string{"kubeflow-userid": "user1@example.com"}, owner.Headers)
	assert.Equal(t, map[string]string{"kubeflow-userid": "user2@example.com"}, cells["host-other-user-to-sklearn-iris-status"].Request.Headers)
	assert.Empty(t, cells["host-no-user-to-sklearn-iris-status"].Request.Headers)
	skip := cells["host-owner-skipping-waypoint-to-sklearn-iris-status"].Request
	assert.Equal(t, "http://sklearn-iris-skip-waypoint-user1.example.com:41234/v1/models/sklearn-iris", skip.URL)
	assert.Equal(t, owner.Headers, skip.Headers, "the owner: only the route differs")
}

// ingressStandIn answers as the design's ingress does in ambient mode: the
// owner's header on the model's route is served, any other header or none
// gets the waypoint's 403, the opt-out route the gateway's 503 for
// ztunnel's refusal; skipped is a waypoint skipped (the opt-out served).
func ingressStandIn(t *testing.T, skipped bool) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := strings.Cut(r.Host, ":")
		switch {
		case r.URL.Path != "/v1/models/"+SklearnIris:
			http.NotFound(w, r)
		case host == SkipWaypointHost && !skipped:
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, matrix.EnvoyUpstreamReset+". reset reason: connection termination")
		case (host == IngressHost || host == SkipWaypointHost) && r.Header.Get(UserIDHeader) == OwnerUserID:
			fmt.Fprintf(w, `{"name":%q,"ready":true}`, SklearnIris)
		case host == IngressHost:
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, "RBAC: access denied")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// The host-side cells run curl on this machine through the engine's
// rounds, with the header and the routed host: against a stand-in of the
// design's ingress they pass; against one whose opt-out route serves the
// owner (the waypoint skipped and nothing refusing) the opt-out cell fails.
func TestIngressCellsRunOnThisMachine(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("host-side cells run curl on this machine: %v", err)
	}
	s := matrix.Settings{RequestTimeout: 3 * time.Second, MaxTimeToConsistency: 3 * time.Second, RequiredConsecutiveSuccesses: 1, RoundInterval: 100 * time.Millisecond}
	local := func(_ context.Context, c matrix.Client) (probe.Pod, error) {
		require.True(t, c.Local, "only the host client runs here")
		return probe.Pod{Local: true}, nil
	}
	res := matrix.Run(context.Background(), Ingress(dataplane.Ambient, ingressStandIn(t, false)), probe.PodExecutor{}, local, s)
	require.True(t, res.Passed(), res.Table())

	res = matrix.Run(context.Background(), Ingress(dataplane.Ambient, ingressStandIn(t, true)), probe.PodExecutor{}, local, s)
	require.False(t, res.Passed(), "an opt-out route that serves the owner fails the ambient cell")
	require.Len(t, res.Failed(), 1, res.Table())
	assert.Equal(t, "host-owner-skipping-waypoint-to-sklearn-iris-status", res.Failed()[0].Name)
}

// The ingress cells' reasons hold only if the fixtures are what they say:
// the Gateway of class istio on port 80 for every namespace, its Service a
// NodePort on the port kind publishes, an ALLOW on it by targetRefs, the
// routes' hosts and Services, the opt-out Service on the predictor's pods
// with its own label, the namespace's label, and the gateway's identity in
// both modes' namespace policy.
func TestIngressFixtureIsWhatTheCellsSay(t *testing.T) {
	gw := object(t, IngressFixture, "Gateway", IngressGateway)
	assert.Equal(t, IngressGatewayNamespace, gw.GetNamespace())
	class, _, _ := unstructured.NestedString(gw.Object, "spec", "gatewayClassName")
	assert.Equal(t, "istio", class, "istiod names its objects <gateway>-istio after the class")
	listeners, _, _ := unstructured.NestedSlice(gw.Object, "spec", "listeners")
	require.Len(t, listeners, 1)
	l := listeners[0].(map[string]any)
	assert.Equal(t, float64(80), l["port"])
	assert.Equal(t, "HTTP", l["protocol"])
	from, _, _ := unstructured.NestedString(l, "allowedRoutes", "namespaces", "from")
	assert.Equal(t, "All", from, "the routes are in user1")
	params, _, _ := unstructured.NestedStringMap(gw.Object, "spec", "infrastructure", "parametersRef")
	assert.Equal(t, map[string]string{"group": "", "kind": "ConfigMap", "name": "ambient-ingressgateway-options"}, params)

	cm := object(t, IngressFixture, "ConfigMap", params["name"])
	assert.Equal(t, IngressGatewayNamespace, cm.GetNamespace(), "istiod reads the ConfigMap in the Gateway's namespace")
	svc := serviceOverlay(t, cm)
	assert.Equal(t, "NodePort", svc.Spec.Type)
	assert.Equal(t, []overlayPort{{Port: 80, NodePort: IngressNodePort}}, svc.Spec.Ports)
	mapped, err := cluster.PortMappings(filepath.Join("..", "..", "kind-config", "kserveambient.yaml"))
	require.NoError(t, err)
	assert.Equal(t, []cluster.PortMapping{{ContainerPort: IngressNodePort, Protocol: "tcp", ListenAddress: "127.0.0.1"}}, mapped)

	allow := object(t, IngressFixture, "AuthorizationPolicy", "ambient-ingressgateway-allow")
	refs, _, _ := unstructured.NestedSlice(allow.Object, "spec", "targetRefs")
	assert.Equal(t, []any{map[string]any{"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": IngressGateway}}, refs)
	assert.Equal(t, IngressGatewayNamespace, allow.GetNamespace())

	for route, want := range map[string][2]string{
		"sklearn-iris":               {IngressHost, SklearnIris + "-predictor"},
		"sklearn-iris-skip-waypoint": {SkipWaypointHost, "sklearn-iris-skip-waypoint"},
	} {
		r := object(t, IngressFixture, "HTTPRoute", route)
		assert.Equal(t, "user1", r.GetNamespace())
		hosts, _, _ := unstructured.NestedStringSlice(r.Object, "spec", "hostnames")
		assert.Equal(t, []string{want[0]}, hosts, route)
		parents, _, _ := unstructured.NestedSlice(r.Object, "spec", "parentRefs")
		assert.Equal(t, []any{map[string]any{"name": IngressGateway, "namespace": IngressGatewayNamespace, "sectionName": "http"}}, parents, route)
		rules, _, _ := unstructured.NestedSlice(r.Object, "spec", "rules")
		require.Len(t, rules, 1, route)
		backends, _, _ := unstructured.NestedSlice(rules[0].(map[string]any), "backendRefs")
		assert.Equal(t, []any{map[string]any{"name": want[1], "port": float64(80)}}, backends, route)
	}

	optOut := object(t, IngressFixture, "Service", "sklearn-iris-skip-waypoint")
	assert.Equal(t, "false", optOut.GetLabels()[IngressUseWaypointLabel])
	selector, _, _ := unstructured.NestedStringMap(optOut.Object, "spec", "selector")
	k, v, _ := strings.Cut(PredictorSelector(SklearnIris), "=")
	assert.Equal(t, map[string]string{k: v}, selector, "the predictor's pods")

	assert.Equal(t, "true", object(t, WaypointFixture, "Namespace", "user1").GetLabels()[IngressUseWaypointLabel])
	for _, mode := range dataplane.Modes {
		p := object(t, authFixture(mode), "AuthorizationPolicy", "ns-owner-access-istio")
		rules, _, _ := unstructured.NestedSlice(p.Object, "spec", "rules")
		require.Len(t, rules, 2, mode)
		principals, _, _ := unstructured.NestedStringSlice(rules[1].(map[string]any)["from"].([]any)[0].(map[string]any), "source", "principals")
		assert.Equal(t, []string{IngressPrincipal}, principals, mode)
		when, _, _ := unstructured.NestedSlice(rules[1].(map[string]any), "when")
		assert.Equal(t, []any{map[string]any{"key": "request.headers[" + UserIDHeader + "]", "values": []any{OwnerUserID}}}, when, mode)
	}
}

type overlayPort struct {
	Port     int `json:"port"`
	NodePort int `json:"nodePort,omitempty"`
}

type overlay struct {
	Spec struct {
		Type  string        `json:"type"`
		Ports []overlayPort `json:"ports"`
	} `json:"spec"`
}

func serviceOverlay(t *testing.T, cm *unstructured.Unstructured) overlay {
	t.Helper()
	data, _, _ := unstructured.NestedString(cm.Object, "data", "service")
	var o overlay
	require.NoError(t, yaml.UnmarshalStrict([]byte(data), &o))
	return o
}

// Off the suite's own kind cluster the node port is left to the API
// server (the Service stays a NodePort); on it, 30080 stays pinned.
func TestLoadIngressUnpinsNodePortsOffItsOwnCluster(t *testing.T) {
	for _, own := range []bool{true, false} {
		objs, err := loadIngress(own)
		require.NoError(t, err)
		var cm *unstructured.Unstructured
		for _, o := range objs {
			if o.GetKind() == "ConfigMap" {
				cm = o
			}
		}
		require.NotNil(t, cm)
		svc := serviceOverlay(t, cm)
		assert.Equal(t, "NodePort", svc.Spec.Type)
		want := []overlayPort{{Port: 80}}
		if own {
			want = []overlayPort{{Port: 80, NodePort: IngressNodePort}}
		}
		assert.Equal(t, want, svc.Spec.Ports, "own cluster: %v", own)
	}
}
