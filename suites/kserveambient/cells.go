package kserveambient

import (
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"

	"github.com/secure-inference/mesh-conformance/suites/kservemesh"
	"github.com/secure-inference/mesh-conformance/tests/bypass"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// The clients: the KServe suite's user1 and user2 (enrolled with their
// namespaces: ztunnel in ambient mode, a sidecar in sidecar mode) and one
// in outside, a namespace never enrolled (fixtures/kserveambient/
// clients.yaml).
var (
	ClientUser1   = kservemesh.ClientUser1
	ClientUser2   = kservemesh.ClientUser2
	ClientOutside = matrix.Client{Name: "outside", Namespace: OutsideNamespace, Selector: "app=sleep", Container: "sleep"}
)

// OutsideNamespace holds the client outside the mesh.
const OutsideNamespace = "outside"

// SklearnIris is the suite's model, the KServe suite's sklearn-iris: in
// Standard mode its predictor is a Deployment and a Service of the same
// name <isvc>-predictor in user1, so the KServe suite's requests
// (kservemesh.ModelRequest, PredictRequest) name it as they are.
const SklearnIris = kservemesh.SklearnIris

// ModelPort is the model server's port (the sklearn runtime's
// --http_port=8080), the predictor Service's targetPort: a request by pod
// IP goes to it directly.
const ModelPort = 8080

// Why each refusal happens, per mode, from the design's policies
// (fixtures/kserveambient/auth.<mode>.yaml).
const (
	// Ambient: user2's ztunnel sends Service traffic to user1's waypoint,
	// which finds no rule of ns-owner-access-istio for ns/user2.
	RefusedByWaypoint = "ambient: user2's request to the Service goes through user1's waypoint, whose L7 policy ns-owner-access-istio " +
		"(targetRefs Gateway waypoint) admits ns/user1 only: the waypoint answers 403"
	// Ambient: a caller outside the mesh has no identity and no waypoint
	// on its path; the receiving ztunnel's L4 policies admit the waypoint
	// only.
	RefusedByZtunnel = "ambient: the receiving ztunnel admits only the waypoint's identity (allow-waypoint, under global-deny-all): " +
		"a caller that does not come through the waypoint is reset below HTTP"
	// Sidecar: the predictor's sidecar enforces the namespace policy.
	RefusedBySidecar = "sidecar: the predictor's sidecar enforces ns-owner-access-istio, which admits ns/user1 only: 403"
	// Sidecar: a plaintext caller (no PeerAuthentication: PERMISSIVE)
	// reaches the sidecar's policy with no identity.
	RefusedBySidecarPlaintext = "sidecar: a plaintext caller reaches the sidecar (PERMISSIVE: the design sets no PeerAuthentication) " +
		"and ns-owner-access-istio finds no identity to admit: 403"
)

// denied403 is a policy's 403 (Envoy's RBAC filter, in a sidecar or a
// waypoint).
func denied403(why string) matrix.Expectation {
	return matrix.Expect(matrix.DeniedHTTP403).WithBody("RBAC: access denied").WithNote(why)
}

// Isolation is the design's namespace isolation on the model's Service,
// by model status and by predict: user1 is served; user2 is refused with a
// 403, by the waypoint in ambient mode and by the predictor's sidecar in
// sidecar mode; outside is reset by ztunnel in ambient mode (it never
// meets the waypoint) and refused with a 403 by the sidecar in sidecar
// mode.
func Isolation(mode dataplane.Mode) matrix.Matrix {
	user2, outside := denied403(RefusedByWaypoint), matrix.Expect(matrix.DeniedL4).WithNote(RefusedByZtunnel)
	if mode == dataplane.Sidecar {
		user2, outside = denied403(RefusedBySidecar), denied403(RefusedBySidecarPlaintext)
	}
	var cells []matrix.Cell
	for _, row := range []struct {
		from            matrix.Client
		status, predict string
		refused         *matrix.Expectation
	}{
		{ClientUser1, "user1-to-sklearn-iris-status", "user1-to-sklearn-iris-predict", nil},
		{ClientUser2, "user2-to-sklearn-iris-status", "user2-to-sklearn-iris-predict", &user2},
		{ClientOutside, "outside-to-sklearn-iris-status", "outside-to-sklearn-iris-predict", &outside},
	} {
		status, predict := matrix.Expect(matrix.Allowed).WithBody(`"ready":true`), matrix.Expect(matrix.Allowed).WithBody(`"predictions"`)
		if row.refused != nil {
			status, predict = *row.refused, *row.refused
		}
		cells = append(cells,
			matrix.Cell{Name: row.status, Client: row.from, Request: kservemesh.ModelRequest(SklearnIris), Expect: status},
			matrix.Cell{Name: row.predict, Client: row.from, Request: kservemesh.PredictRequest(SklearnIris), Expect: predict})
	}
	return matrix.Matrix{Name: "kserveambient-namespace-isolation", Cells: cells}
}

// PodIPRequest is the model status call to a predictor pod's IP on the
// model server's port: no Service, so no waypoint.
func PodIPRequest(ip string) probe.Request {
	return probe.Request{URL: fmt.Sprintf("http://%s/v1/models/%s", net.JoinHostPort(ip, fmt.Sprint(ModelPort)), SklearnIris)}
}

// SkipsWaypoint is the note of a pod-IP cell in ambient mode.
const SkipsWaypoint = "ambient: a waypoint serves Service traffic (istio.io/waypoint-for: service, the design's choice), so a request to the " +
	"pod IP skips it and meets only the receiving ztunnel, whose allow-waypoint policy refuses every other identity: " +
	"a 2xx here is the waypoint bypassed (istio.io PR 17520; Istio's TestBogusUseWaypoint expects such traffic to succeed)"

// PodIP is the waypoint's first hole: the model's pod by IP, from every
// client. In ambient mode the design's L4 policy refuses everyone there,
// user1 too (its L7 admission is the waypoint's, which this path skips).
// In sidecar mode there is no waypoint to skip: the pod's sidecar enforces
// the same policy as for the Service, so user1 is served and the others
// refused as in Isolation.
func PodIP(mode dataplane.Mode, ip string) matrix.Matrix {
	req := PodIPRequest(ip)
	reset := matrix.Expect(matrix.DeniedL4).WithNote(SkipsWaypoint)
	user1, user2, outside := reset, reset, reset
	if mode == dataplane.Sidecar {
		user1 = matrix.Expect(matrix.Allowed).WithBody(`"ready":true`).WithNote("sidecar: no waypoint; the pod's sidecar admits ns/user1 by pod IP as by the Service")
		user2, outside = denied403(RefusedBySidecar), denied403(RefusedBySidecarPlaintext)
	}
	return matrix.Matrix{Name: "kserveambient-pod-ip", Cells: []matrix.Cell{
		{Name: "user1-to-sklearn-iris-pod-ip", Client: ClientUser1, Request: req, Expect: user1},
		{Name: "user2-to-sklearn-iris-pod-ip", Client: ClientUser2, Request: req, Expect: user2},
		{Name: "outside-to-sklearn-iris-pod-ip", Client: ClientOutside, Request: req, Expect: outside},
	}}
}

// L7RuleOnZtunnelNote is why the ambient cell is refused.
const L7RuleOnZtunnelNote = "ambient: deny-delete-on-ztunnel selects httpbin's pods, so their ztunnel enforces it, and ztunnel has no HTTP: " +
	"istiod gives it the DENY without its methods rule (Istio 1.27.1 pilot/pkg/serviceregistry/kube/controller/ambient/authorization.go handleRule), which refuses " +
	"every connection, the waypoint's forward of this GET too; the waypoint answers 503 (upstream reset)"

// L7RuleOnZtunnel is the waypoint's fourth hole, the other way round: an
// L7 rule that lands on ztunnel. user1's GET to httpbin is refused in
// ambient mode (the DENY of DELETE widened to every request) and served in
// sidecar mode, where the sidecar enforces the rule as written.
func L7RuleOnZtunnel(mode dataplane.Mode) matrix.Matrix {
	want := matrix.Expect(matrix.AnyRefusal).WithNote(L7RuleOnZtunnelNote)
	if mode == dataplane.Sidecar {
		want = matrix.Expect(matrix.Allowed).WithBody(`"headers"`).WithNote("sidecar: the sidecar enforces deny-delete-on-ztunnel as written: DELETE only")
	}
	return matrix.Matrix{Name: "kserveambient-l7-rule-on-ztunnel", Cells: []matrix.Cell{
		{Name: "user1-get-httpbin-under-l7-deny-on-ztunnel", Client: ClientUser1, Request: kservemesh.HTTPBinHeaders, Expect: want},
	}}
}

// PolicyControl is the control of the isolation: with the policies that
// refuse removed, user2's call to the model answers 200, or the 403 did
// not come from them.
func PolicyControl(mode dataplane.Mode) matrix.Matrix {
	removed := "ns-owner-access-istio and global-deny-all"
	if mode == dataplane.Ambient {
		removed = "ns-owner-access-istio and waypoint-deny-all (the waypoint then has no policy)"
	}
	return matrix.Matrix{Name: "kserveambient-policy-control", Cells: []matrix.Cell{{
		Name: "user2-to-sklearn-iris-status-without-policy", Client: ClientUser2, Request: kservemesh.ModelRequest(SklearnIris),
		Expect: matrix.Expect(matrix.Allowed).WithBody(`"ready":true`).WithNote("control: " + removed + " removed"),
	}}}
}

// FailClosedCells are the refused calls to the model, which must never
// answer 2xx while the mesh is disrupted, and user1's allowed call, whose
// downtime is measured.
func FailClosedCells(mode dataplane.Mode) matrix.Matrix {
	return Isolation(mode).Only("kserveambient-fail-closed", "user1-to-sklearn-iris-status", "user2-to-sklearn-iris-status", "outside-to-sklearn-iris-status")
}

// Models are the names a bypass probe's refusal must not reveal.
var Models = []string{SklearnIris}

// Predictor is sklearn-iris's predictor as a bypass target: its pods by
// KServe's Standard-mode label (PredictorSelector), the model server's
// undeclared gRPC port (the KServe suite's KServeGRPC); the sketch is the
// one container KServe declares, kserve-container on 8080 (no queue-proxy
// in Standard mode).
func Predictor() bypass.Target {
	return bypass.Target{Workload: SklearnIris, Namespace: "user1", Selector: PredictorSelector(SklearnIris),
		ModelPath: "/v1/models/" + SklearnIris, Models: Models, Undeclared: []bypass.Port{kservemesh.KServeGRPC},
		Sketch: []corev1.Container{{Name: "kserve-container", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: ModelPort}}}}}
}

// PredictorSelector picks an InferenceService's predictor pods in Standard
// mode (and, on their Deployment's pod template, the Deployment): KServe
// v0.20.0 labels them app: isvc.<isvc>-predictor
// (pkg/constants/constants.go RawDeploymentAppLabel, GetRawServiceLabel;
// components/predictor.go lists them by it).
func PredictorSelector(isvc string) string {
	return "app=isvc." + isvc + "-predictor"
}

// BypassClients must be refused on every port of the predictor: the
// client outside the mesh and the enrolled client of another namespace.
var BypassClients = []matrix.Client{ClientOutside, ClientUser2}
