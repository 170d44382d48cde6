package kservemesh

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/secure-inference/mesh-conformance/tests/bypass"
	"github.com/secure-inference/mesh-conformance/tests/capacity"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// The KServe suite's clients, each a curl pod named sleep: in user1 (with
// a sidecar: the models' own namespace), in user2 (with a sidecar: another
// mesh namespace, as the current upstream page has it) and in default (no
// sidecar: outside the mesh). Requests run in the "sleep" application
// container, never in istio-proxy.
var (
	ClientUser1   = matrix.Client{Name: "user1", Namespace: "user1", Selector: "app=sleep", Container: "sleep"}
	ClientUser2   = matrix.Client{Name: "user2", Namespace: "user2", Selector: "app=sleep", Container: "sleep"}
	ClientDefault = matrix.Client{Name: "default", Namespace: "default", Selector: "app=sleep", Container: "sleep"}
)

// InferenceServices of the KServe suite.
const (
	SklearnIris      = "sklearn-iris"       // activator off the path (target burst capacity 0)
	SklearnIrisBurst = "sklearn-iris-burst" // activator on the path
	SklearnIrisCold  = "sklearn-iris-cold"  // scales to zero: the activator on the path while cold
)

// ActivatorLimitation explains the allowed cross-namespace cells.
const ActivatorLimitation = "documented activator limitation (knative net-istio issue 554): the activator in knative-serving proxies the request, " +
	"and the policy's knative-serving rule admits it whatever its origin; this 200 is the document's expectation, not namespace isolation"

// Why each refusal of sklearn-iris happens: the two are different facts and
// a cluster can get one right and the other wrong.
const (
	// From another mesh namespace the caller's own sidecar identity
	// (ns/user2) reaches the predictor's sidecar: this is namespace
	// isolation.
	IsolationByNamespace = "namespace isolation: the caller's identity (ns/user2) matches no rule of allow-serving-tests"
	// From outside the mesh the request goes through knative-local-gateway
	// (the predictor's Knative Service is an ExternalName to it), which
	// re-originates it with mTLS as ns/istio-system: this 403 refuses the
	// gateway's identity, not the caller's namespace.
	RefusedViaLocalGateway = "through knative-local-gateway: the 403 refuses the gateway's identity (ns/istio-system), not the caller's namespace"
)

// PredictorHost is the Knative service host of an InferenceService's
// predictor (KServe >= v0.11 names it <isvc>-predictor).
func PredictorHost(isvc string) string {
	return fmt.Sprintf("%s-predictor.user1.svc.cluster.local", isvc)
}

// ModelRequest is the V1 protocol's model status call: 200
// {"name":"<isvc>","ready":true}.
func ModelRequest(isvc string) probe.Request {
	return probe.Request{URL: fmt.Sprintf("http://%s/v1/models/%s", PredictorHost(isvc), isvc)}
}

// PredictRequest is the V1 protocol's predict call on one iris sample.
func PredictRequest(isvc string) probe.Request {
	return probe.Request{
		Method:  "POST",
		URL:     fmt.Sprintf("http://%s/v1/models/%s:predict", PredictorHost(isvc), isvc),
		Headers: map[string]string{"Content-Type": "application/json"},
		Body:    `{"instances":[[5.1,3.5,1.4,0.2]]}`,
	}
}

// Isolation is the document's matrix, by model status and by predict,
// with the current upstream page's user2: from user1 both models answer;
// from user2 (another mesh namespace) sklearn-iris is refused by namespace
// and sklearn-iris-burst answers through the activator; from default (no
// sidecar) likewise, the refusal coming through the local gateway. And the
// same policy on a user1 workload Knative does not front (httpbin, no
// activator ever on its path): user1 is served, user2 refused by
// namespace. (default's plaintext call to httpbin is StrictMTLS's: STRICT
// resets it before the policy is asked.)
func Isolation() matrix.Matrix {
	var cells []matrix.Cell
	// Each row names its two cells in full, so that a failing cell's name
	// greps to its row (a misspelt one changes the plan golden).
	for _, row := range []struct {
		from            matrix.Client
		isvc            string
		status, predict string
	}{
		{ClientUser1, SklearnIris, "user1-to-sklearn-iris-status", "user1-to-sklearn-iris-predict"},
		{ClientUser2, SklearnIris, "user2-to-sklearn-iris-status", "user2-to-sklearn-iris-predict"},
		{ClientDefault, SklearnIris, "default-to-sklearn-iris-status", "default-to-sklearn-iris-predict"},
		{ClientUser1, SklearnIrisBurst, "user1-to-sklearn-iris-burst-status", "user1-to-sklearn-iris-burst-predict"},
		{ClientUser2, SklearnIrisBurst, "user2-to-sklearn-iris-burst-status", "user2-to-sklearn-iris-burst-predict"},
		{ClientDefault, SklearnIrisBurst, "default-to-sklearn-iris-burst-status", "default-to-sklearn-iris-burst-predict"},
	} {
		from, isvc := row.from, row.isvc
		status := matrix.Expect(matrix.Allowed).WithBody(`"ready":true`)
		predict := matrix.Expect(matrix.Allowed).WithBody(`"predictions"`)
		switch {
		case from == ClientUser1:
		case isvc == SklearnIris:
			// The document runs this setup with sidecars: a 403 from
			// the predictor's sidecar.
			why := IsolationByNamespace
			if from == ClientDefault {
				why = RefusedViaLocalGateway
			}
			status = matrix.DeniedByPolicy(dataplane.Sidecar).WithNote(why)
			predict = status
		default:
			status, predict = status.WithNote(ActivatorLimitation), predict.WithNote(ActivatorLimitation)
		}
		cells = append(cells,
			matrix.Cell{Name: row.status, Client: from, Request: ModelRequest(isvc), Expect: status},
			matrix.Cell{Name: row.predict, Client: from, Request: PredictRequest(isvc), Expect: predict})
	}
	cells = append(cells,
		matrix.Cell{Name: "user1-to-httpbin", Client: ClientUser1, Request: HTTPBinHeaders, Expect: matrix.Expect(matrix.Allowed).WithBody(`"headers"`)},
		// allow-serving-tests has no selector: it holds for every user1
		// workload, httpbin too.
		matrix.Cell{Name: "user2-to-httpbin", Client: ClientUser2, Request: HTTPBinHeaders,
			Expect: matrix.DeniedByPolicy(dataplane.Sidecar).WithNote(IsolationByNamespace)})
	return matrix.Matrix{Name: "kserve-namespace-isolation", Cells: cells}
}

// HardenedFixture holds the hardened profile's policies: OpenShift
// Serverless's default deny in knative-serving and its allows on the
// activator (knative-istio-authz-chart, cited in the file).
const HardenedFixture = "kservemesh/hardened/activator.yaml"

// RefusedAtActivator explains the hardened profile's refusals of
// sklearn-iris-burst, by caller.
const (
	RefusedAtActivatorByNamespace = "hardened: the caller's identity (ns/user2) matches no rule on the activator: allow-user1-via-activator admits only user1 " +
		"(knative-istio-authz-chart's serving-allow-traffic-via-activator), so the activator's sidecar answers 403"
	RefusedAtActivatorViaLocalGateway = "hardened: through knative-local-gateway the request reaches the activator as ns/istio-system, which " +
		"allow-traffic-to-activator admits for K-Network-Probe only, so the activator's sidecar answers 403"
)

// HardenedBurst are the cells the hardened profile changes: the other
// namespaces' calls to sklearn-iris-burst, which the documented setup
// serves through the activator.
var HardenedBurst = []string{
	"user2-to-sklearn-iris-burst-status", "user2-to-sklearn-iris-burst-predict",
	"default-to-sklearn-iris-burst-status", "default-to-sklearn-iris-burst-predict",
}

// IsolationOf is the isolation matrix of a profile: the document's
// (Isolation), and under the hardened profile the same cells but
// HardenedBurst, refused with 403 by the activator's sidecar; user1 is
// still served by both models, through the activator too.
func IsolationOf(p options.KServeProfile) matrix.Matrix {
	m := Isolation()
	if p != options.KServeHardened {
		return m
	}
	for i, c := range m.Cells {
		if !slices.Contains(HardenedBurst, c.Name) {
			continue
		}
		why := RefusedAtActivatorByNamespace
		if c.Client == ClientDefault {
			why = RefusedAtActivatorViaLocalGateway
		}
		m.Cells[i].Expect = matrix.DeniedByPolicy(dataplane.Sidecar).WithNote(why)
	}
	return m
}

// ActivatorControl is the hardened profile's control: with the policies
// on the activator removed (the default deny and both allows), the
// activator is open again and the other namespaces' calls to
// sklearn-iris-burst answer 200, or their 403 did not come from those
// policies.
func ActivatorControl() matrix.Matrix {
	allowed := matrix.Expect(matrix.Allowed).WithBody(`"ready":true`).
		WithNote("control: the activator's AuthorizationPolicies removed (deny-all-by-default, allow-traffic-to-activator, allow-user1-via-activator)")
	return matrix.Matrix{Name: "kserve-activator-policy-control", Cells: []matrix.Cell{
		{Name: "default-to-sklearn-iris-burst-status-without-activator-policies", Client: ClientDefault, Request: ModelRequest(SklearnIrisBurst), Expect: allowed},
		{Name: "user2-to-sklearn-iris-burst-status-without-activator-policies", Client: ClientUser2, Request: ModelRequest(SklearnIrisBurst), Expect: allowed},
	}}
}

// TopLevelHost is the traffic the document's disableIstioVirtualHost
// changes: the InferenceService's own host, <isvc>.user1.svc.cluster.local,
// from the allowed client. KServe's ingress reconciler at v0.20.0
// (pkg/controller/v1beta1/inferenceservice/reconcilers/ingress/
// ingress_reconciler.go: reconcileVirtualService, reconcileExternalService,
// createIngress) builds, only while the flag is false, an ExternalName
// Service <isvc> to knative-local-gateway.istio-system.svc.cluster.local
// and a VirtualService <isvc> for that host and <isvc>-user1.example.com on
// knative-local-gateway, mesh and the ingress gateway, routing to
// knative-local-gateway with Host set to the predictor's: with the flag
// false this request resolves and sklearn-iris-burst answers 200 through
// the activator. With it true neither object exists, so the name does not
// resolve (curl exit 6).
func TopLevelHost() matrix.Matrix {
	host := SklearnIrisBurst + ".user1.svc.cluster.local"
	return matrix.Matrix{Name: "kserve-top-level-host", Cells: []matrix.Cell{{
		Name: "user1-to-sklearn-iris-burst-top-level-host", Client: ClientUser1,
		Request: probe.Request{URL: fmt.Sprintf("http://%s/v1/models/%s", host, SklearnIrisBurst)},
		Expect: matrix.Expect(matrix.DNSFailure).WithNote("disableIstioVirtualHost: true: KServe publishes no Service " + SklearnIrisBurst +
			" (ExternalName to knative-local-gateway) and no VirtualService for " + host + "; with the flag false this name resolves and answers 200 " +
			"(KServe v0.20.0 reconcilers/ingress/ingress_reconciler.go)"),
	}}}
}

// PolicyControl is the control: with the AuthorizationPolicy removed,
// the denied cells must answer 200, or the 403 did not come from the policy.
func PolicyControl() matrix.Matrix {
	allowed := matrix.Expect(matrix.Allowed).WithNote("control: AuthorizationPolicy allow-serving-tests removed")
	return matrix.Matrix{Name: "kserve-policy-control", Cells: []matrix.Cell{
		{Name: "default-to-sklearn-iris-status-without-policy", Client: ClientDefault, Request: ModelRequest(SklearnIris), Expect: allowed.WithBody(`"ready":true`)},
		{Name: "user2-to-sklearn-iris-status-without-policy", Client: ClientUser2, Request: ModelRequest(SklearnIris), Expect: allowed.WithBody(`"ready":true`)},
	}}
}

// HTTPBinHeaders is httpbin's /headers in user1, which echoes the
// X-Forwarded-Client-Cert header its sidecar adds.
var HTTPBinHeaders = probe.Request{URL: "http://httpbin.user1.svc.cluster.local:8000/headers", BodyBytes: 8 << 10}

// StrictMTLS: a plaintext client (default, no sidecar) straight to a
// user1 workload. Every other cell reaches user1 over mTLS (from a sidecar,
// or re-originated by knative-local-gateway), so only this cell sees what
// STRICT does: the sidecar resets a connection that is not mTLS.
func StrictMTLS() matrix.Matrix {
	return matrix.Matrix{Name: "kserve-strict-mtls", Cells: []matrix.Cell{{
		Name: "default-to-httpbin-plaintext", Client: ClientDefault, Request: HTTPBinHeaders,
		Expect: matrix.Expect(matrix.DeniedL4).WithNote("PeerAuthentication default is STRICT: a plaintext connection is reset"),
	}}}
}

// StrictControl is what PERMISSIVE gives the same cell (the
// PeerAuthentication removed): the plaintext request reaches the
// AuthorizationPolicy, which finds no identity to admit and answers 403.
// So a reset under STRICT is STRICT's doing, not the policy's.
func StrictControl() matrix.Matrix {
	return matrix.Matrix{Name: "kserve-strict-control", Cells: []matrix.Cell{{
		Name: "default-to-httpbin-plaintext-without-peerauthentication", Client: ClientDefault, Request: HTTPBinHeaders,
		Expect: matrix.DeniedByPolicy(dataplane.Sidecar).WithNote("control: PeerAuthentication default removed (PERMISSIVE): plaintext reaches the AuthorizationPolicy"),
	}}}
}

// MTLSIdentity proves an allowed in-mesh call was mTLS: httpbin echoes
// the X-Forwarded-Client-Cert header its sidecar adds, which carries the
// caller's SPIFFE identity in the mesh's trust domain.
func MTLSIdentity(trustDomain string) matrix.Matrix {
	return matrix.Matrix{Name: "kserve-mtls-identity", Cells: []matrix.Cell{{
		Name:    "user1-to-httpbin-headers",
		Client:  ClientUser1,
		Request: HTTPBinHeaders,
		Expect:  matrix.Expect(matrix.Allowed).WithBody("URI=spiffe://" + trustDomain + "/ns/user1/sa/sleep"),
	}}}
}

// Workloads is what the suite's own workloads request once Istio
// injects them: three predictors (predictorPod), httpbin and the user1
// and user2 clients (a sidecar each; the containers request nothing), the
// sidecars the document adds to the activator and the autoscaler.
func Workloads(sidecar capacity.Request) []capacity.Request {
	var out []capacity.Request
	for _, isvc := range []string{SklearnIris, SklearnIrisBurst, SklearnIrisCold} {
		cpu, mem := capacity.PodRequests(predictorPod(sidecar))
		out = append(out, capacity.Request{What: isvc + " predictor pod (kserve-container, queue-proxy, istio-proxy; storage-initializer beside the sidecar)", CPU: cpu, Memory: mem})
	}
	for _, w := range []string{"httpbin (user1)", "sleep (user1)", "sleep (user2)", "activator (knative-serving)", "autoscaler (knative-serving)"} {
		out = append(out, named(sidecar, w))
	}
	return out
}

// predictorPod is a predictor pod's requests as the scheduler counts them
// (capacity.PodRequests, KEP-753): kserve-container 50m/128Mi
// (fixtures/kservemesh/inferenceservices.yaml, inferenceservice-cold.yaml);
// queue-proxy 25m and no memory (serving knative-v1.21.1
// pkg/deployment/config.go QueueSidecarCPURequestDefault; its memory
// default applies only with the queueproxy resource-defaults feature, off
// by default: pkg/reconciler/revision/resources/queue.go); Istio's
// istio-init and istio-proxy at the sidecar's figure, istio-proxy a native
// sidecar (an init container with restartPolicy Always, as Istio 1.27
// injects it on Kubernetes 1.33+) that Istio puts before every other init
// container but istio-init (pkg/kube/inject/inject.go reorderPod, 1.27.1);
// then KServe's storage-initializer 100m/100Mi (KServe v0.20.0
// charts/kserve-resources/files/common/configmap-patch.yaml
// storageInitializer). It starts with the sidecar running, so it counts
// with it (200m/228Mi), more CPU than the running pod (175m): each
// predictor asks for 200m/256Mi.
func predictorPod(sidecar capacity.Request) corev1.PodSpec {
	q := resource.MustParse
	return corev1.PodSpec{
		InitContainers: []corev1.Container{capacity.Container("istio-init", sidecar.CPU, sidecar.Memory), capacity.NativeSidecar(sidecar),
			capacity.Container("storage-initializer", q("100m"), q("100Mi"))},
		Containers: []corev1.Container{capacity.Container("kserve-container", q("50m"), q("128Mi")),
			capacity.Container("queue-proxy", q("25m"), resource.Quantity{})},
	}
}

func named(r capacity.Request, owner string) capacity.Request {
	r.What = owner + " " + r.What
	return r
}

// ColdClients send the cold requests: the mesh client of another
// namespace, and the client outside the mesh.
var ColdClients = []matrix.Client{ClientUser2, ClientDefault}

// ColdStartNote is how a cold request is reported: an observation, not a
// verdict, since the document's own limitation (the activator cannot be
// locked down) applies whenever the model is cold.
const ColdStartNote = "cold start: with no ready pod the activator is on the path (ServerlessService in Proxy mode) and forwards with its own identity, " +
	"which the knative-serving rule admits (knative net-istio issue 554); a 200 here means isolation did not hold while the model woke, " +
	"a 403 means the refusal survived the cold start; the warm refusal is the verdict"

// HardenedActivatorNote is what a refused caller's 2xx through the
// activator means under the hardened profile, whose policies refuse it
// there: while a model is cold or restarting, the activator is on the
// path, so a 2xx is those policies failing.
const HardenedActivatorNote = "hardened: with no ready pod the activator is on the path, and its policies (allow-user1-via-activator, " +
	"allow-traffic-to-activator) refuse user2 and knative-local-gateway's identity: a 2xx here means the hardened activator did not hold; " +
	"a 403 means it did"

// activatorNote is the note of a refused caller's request while the
// activator is on the path (cold start, restart): the documented one, or
// under the hardened profile HardenedActivatorNote.
func activatorNote(documented string) func(options.Options) string {
	return func(o options.Options) string {
		if hardened(o) {
			return HardenedActivatorNote
		}
		return documented
	}
}

// ColdStartWarm is the verdict of cold-start-isolation: once
// sklearn-iris-cold is warm again (ready pods, the activator off the path)
// the callers of other namespaces are refused, and user1 is served.
func ColdStartWarm() matrix.Matrix {
	ok := matrix.Expect(matrix.Allowed).WithBody(`"ready":true`)
	return matrix.Matrix{Name: "kserve-cold-start-warm", Cells: []matrix.Cell{
		{Name: "user1-to-sklearn-iris-cold-warm", Client: ClientUser1, Request: ModelRequest(SklearnIrisCold), Expect: ok},
		{Name: "user2-to-sklearn-iris-cold-warm", Client: ClientUser2, Request: ModelRequest(SklearnIrisCold),
			Expect: matrix.DeniedByPolicy(dataplane.Sidecar).WithNote(IsolationByNamespace)},
		{Name: "default-to-sklearn-iris-cold-warm", Client: ClientDefault, Request: ModelRequest(SklearnIrisCold),
			Expect: matrix.DeniedByPolicy(dataplane.Sidecar).WithNote(RefusedViaLocalGateway)},
	}}
}

// Models are the names a bypass probe's refusal must not reveal, and that
// a documented plaintext port's metrics are searched for.
var Models = []string{SklearnIris, SklearnIrisBurst, SklearnIrisCold}

// KServeGRPC is the KServe model server's gRPC port: on by default
// (--enable_grpc defaults to True) on DEFAULT_GRPC_PORT 8081, while the
// sklearn runtime passes only --http_port=8080 and Knative declares only
// the user port, so the pod spec never shows it (kserve v0.20.0 and
// v0.15.2: python/kserve/kserve/model_server.py, constants/constants.py).
var KServeGRPC = bypass.Port{Number: 8081, Container: "kserve-container", Purpose: "KServe model server gRPC (on by default; undeclared)", HTTP2: true,
	Source: "kserve v0.20.0/v0.15.2 python/kserve/kserve/constants/constants.py DEFAULT_GRPC_PORT, model_server.py --enable_grpc default True"}

// BypassTargets are the protected workloads of user1: both predictors
// (their pods found by Knative's service label, with the model server's
// undeclared gRPC port) and httpbin. The sketched containers are what
// --dry-run shows: a KServe predictor's kserve-container and queue-proxy
// (Knative 1.21's declared ports), and httpbin's port 80
// (fixtures/kservemesh/httpbin.yaml).
func BypassTargets() []bypass.Target {
	predictor := func(isvc string) bypass.Target {
		return bypass.Target{Workload: isvc, Namespace: "user1", Selector: PredictorSelector(isvc),
			ModelPath: "/v1/models/" + isvc, Models: Models, Undeclared: []bypass.Port{KServeGRPC}, Sketch: []corev1.Container{
				{Name: "kserve-container", Ports: []corev1.ContainerPort{{Name: "user-port", ContainerPort: 8080}}},
				{Name: bypass.QueueProxy, Ports: []corev1.ContainerPort{{Name: "http-autometric", ContainerPort: 9090}, {Name: "http-usermetric", ContainerPort: 9091},
					{Name: "queue-port", ContainerPort: 8012}, {Name: "https-port", ContainerPort: 8112}}},
			}}
	}
	return []bypass.Target{predictor(SklearnIris), predictor(SklearnIrisBurst),
		{Workload: "httpbin", Namespace: "user1", Selector: "app=httpbin", Models: Models,
			Sketch: []corev1.Container{{Name: "httpbin", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}}}
}

// BypassClients are the callers that must be refused on every port: the
// client outside the mesh (default) and the mesh client of another
// namespace (user2).
var BypassClients = []matrix.Client{ClientDefault, ClientUser2}
