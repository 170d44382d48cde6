package kservemesh

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

// The as-written run (--setup=as-written): kserve-servicemesh.md's own
// YAML and commands as it prints them (fixtures/kservemesh/as-written, and
// the corrected fixtures the document's text matches: auth.yaml,
// httpbin.yaml, Istio's sleep in default), with the components at the
// suite's pins (the document pins none). Its matrix is the document's four
// claims, from the document's own clients to its own hosts, expected as it
// claims them, so that each is reported holding or not. Its ConfigMap edit
// cannot be applied (not valid YAML): the premise ingress-edit-as-written
// fails and says so. What the corrected run adds (user2, strict-mtls,
// mtls-identity, bypass, the controls, cold start, restarts, fail-closed)
// does not apply; the report marks the run and the summary keeps it apart.

// checkAsWritten: the document has one setup, so the hardened profile
// (this suite's addition) has no as-written run.
func checkAsWritten(o options.Options) error {
	if options.AsWritten(o) && hardened(o) {
		return fmt.Errorf("--setup=%s: kserve-servicemesh.md has no hardened setup; run it as written with --kserve-profile=%s",
			options.SetupAsWritten, options.KServeDocumented)
	}
	return nil
}

// The as-written fixtures (each cites its section of the document).
const (
	NamespaceAsWritten         = "kservemesh/as-written/namespace.yaml"
	InferenceServicesAsWritten = "kservemesh/as-written/sklearn_iris.yaml"
	// IngressEditAsWritten is the document's edit of
	// inferenceservice-config ("Disable Top Level Virtual Service"), the
	// lines it prints for "kubectl edit", byte for byte: not a manifest
	// (so not .yaml), and not valid YAML either.
	IngressEditAsWritten = "kservemesh/as-written/inferenceservice-config.edit"
)

// The as-written run's own steps.
const (
	createUser1Step      = "create-namespace-user1"
	labelUser1Step       = "label-user1-istio-injection"
	isvcsAsWrittenStep   = "inferenceservices-as-written"
	httpbinAndSleepStep  = "httpbin-and-sleep-as-written"
	ingressEditAsWritten = "ingress-edit-as-written"
	documentClaimsName   = "document-claims"
)

// stepsAsWritten turns the corrected steps into the document's: its own
// namespace (created, labelled later), its InferenceServices as printed,
// httpbin and Istio's sleep in default only. The installs, the Knative
// sidecars (which the document requires without a command), auth.yaml (as
// printed) and the check of disableIstioVirtualHost (the kserve chart sets
// it in both runs: the document's own edit is the premise
// ingress-edit-as-written) are the corrected run's.
func stepsAsWritten(fixed []harness.Step, t options.TimeoutConfig) []harness.Step {
	var out []harness.Step
	for _, s := range fixed {
		switch s.Name {
		case "namespace-user1":
			out = append(out, harness.Step{Name: createUser1Step, Run: func(ctx context.Context, e *harness.Env) error {
				return fixtures.Apply(ctx, e.Apply, NamespaceAsWritten)
			}})
		case "inferenceservices":
			// "kubectl label namespace user1 istio-injection=enabled
			// --overwrite", then "kubectl apply -f sklearn_iris.yaml".
			out = append(out, harness.Step{Name: labelUser1Step, Run: func(ctx context.Context, e *harness.Env) error {
				_, err := e.Kube.CoreV1().Namespaces().Patch(ctx, "user1", types.MergePatchType,
					[]byte(`{"metadata":{"labels":{"istio-injection":"enabled"}}}`), metav1.PatchOptions{})
				return err
			}}, harness.Step{Name: isvcsAsWrittenStep, Run: func(ctx context.Context, e *harness.Env) error {
				if err := CheckRuntime(ctx, e.Apply.Dynamic, SklearnRuntime); err != nil {
					return err
				}
				isvcs, err := fixtures.Load(InferenceServicesAsWritten)
				if err != nil {
					return err
				}
				// Not ready in time (the runtime's 1 CPU / 2Gi per
				// predictor may not fit) fails this step: the document's.
				return e.ApplyReady(ctx, isvcs, t.InferenceServiceReadyTimeout)
			}, Limit: t.InferenceServiceReadyTimeout})
		case "httpbin-and-clients":
			out = append(out, harness.Step{Name: httpbinAndSleepStep, Run: func(ctx context.Context, e *harness.Env) error {
				objs, err := httpbinAndSleep()
				if err != nil {
					return err
				}
				if err := e.Apply.Apply(ctx, objs...); err != nil {
					return err
				}
				if err := ready.Deployments(ctx, e.Kube, "user1", "app=httpbin", t.ReadyTimeout); err != nil {
					return err
				}
				return ready.Deployments(ctx, e.Kube, "default", "app=sleep", t.ReadyTimeout)
			}})
		default:
			out = append(out, s)
		}
	}
	return out
}

// httpbinAndSleep are the document's test services: httpbin.yaml in user1
// ("kubectl apply -f httpbin.yaml") and Istio's sleep.yaml in default
// ("kubectl apply -f sleep.yaml"), which the corrected fixtures hold as
// the document links them; user1's and user2's sleep are the suite's.
func httpbinAndSleep() ([]*unstructured.Unstructured, error) {
	objs, err := fixtures.Load("kservemesh/httpbin.yaml")
	if err != nil {
		return nil, err
	}
	clients, err := fixtures.Load("kservemesh/clients.yaml")
	if err != nil {
		return nil, err
	}
	for _, o := range clients {
		if o.GetNamespace() == ClientDefault.Namespace {
			objs = append(objs, o)
		}
	}
	return objs, nil
}

// ClientHTTPBinProxy is the document's same-namespace client: "kubectl
// exec -it httpbin-... -c istio-proxy -n user1 -- curl -v ...", curl in
// httpbin's istio-proxy container.
var ClientHTTPBinProxy = matrix.Client{Name: "httpbin-istio-proxy", Namespace: "user1", Selector: "app=httpbin", Container: "istio-proxy"}

// DocumentPredictorHost is the predictor's host as the document calls it,
// <isvc>-predictor-default (KServe up to v0.10).
func DocumentPredictorHost(isvc string) string {
	return fmt.Sprintf("%s-predictor-default.user1.svc.cluster.local", isvc)
}

// DocumentClaims are the document's four claims as it prints them: its
// clients (httpbin's istio-proxy in user1, sleep in default), its hosts
// and its request (GET /v1/models/<isvc>), expected as it claims: 200 from
// user1 to both models, 403 from default to sklearn-iris, 200 from default
// to sklearn-iris-burst (through the activator).
func DocumentClaims() matrix.Matrix {
	claim := func(name string, from matrix.Client, isvc string, expect matrix.Expectation, section string) matrix.Cell {
		return matrix.Cell{Name: name, Client: from,
			Request: probe.Request{URL: fmt.Sprintf("http://%s/v1/models/%s", DocumentPredictorHost(isvc), isvc)},
			Expect:  expect.WithNote("the document's claim (" + section + ")")}
	}
	ready := matrix.Expect(matrix.Allowed).WithBody(`"ready":true`)
	same, other := `"Run a prediction from the same namespace"`, `"Run a prediction from a different namespace"`
	return matrix.Matrix{Name: "kserve-document-claims", Cells: []matrix.Cell{
		claim("httpbin-istio-proxy-to-sklearn-iris", ClientHTTPBinProxy, SklearnIris, ready, same+": HTTP 200"),
		claim("httpbin-istio-proxy-to-sklearn-iris-burst", ClientHTTPBinProxy, SklearnIrisBurst, ready, same+": HTTP 200"),
		claim("default-to-sklearn-iris", ClientDefault, SklearnIris, matrix.DeniedByPolicy(dataplane.Sidecar), other+`: HTTP 403 "RBAC denied"`),
		claim("default-to-sklearn-iris-burst", ClientDefault, SklearnIrisBurst, ready, other+": HTTP 200 through the activator"),
	}}
}

// documentClaimsFeature runs the document's claims.
var documentClaimsFeature = harness.Feature{
	Name: documentClaimsName, Kind: harness.KindMatrix, Applies: options.AsWritten,
	Manifests: []string{"kservemesh/auth.yaml", InferenceServicesAsWritten, "kservemesh/httpbin.yaml", "kservemesh/clients.yaml"},
	Matrices:  harness.Fixed(DocumentClaims()),
}

// activatorPremiseAsWritten is the document's own premise ("when
// autoscaling.knative.dev/targetBurstCapacity is set to 0, Knative removes
// the activator from the request path"), checked on its InferenceServices
// as the corrected run checks its own.
var activatorPremiseAsWritten = harness.Feature{
	Name: "activator-premise-as-written", Kind: harness.KindPremise, Applies: options.AsWritten, Manifests: []string{InferenceServicesAsWritten},
	Checks: activatorPremiseFeature.Checks,
}

// ingressEditFeature is the document's ConfigMap edit as printed: it
// fails, saying why, where a corrected run sets the chart value.
var ingressEditFeature = harness.Feature{
	Name: ingressEditAsWritten, Kind: harness.KindPremise, Applies: options.AsWritten,
	Checks: []harness.Check{{Name: "as-printed", Run: func(context.Context, *harness.Env) error { return CheckIngressEdit() }}},
}

// CheckIngressEdit applies the document's edit to the ConfigMap's data as
// "kubectl edit" would read it: it is not valid YAML; were it read, its
// ingress would replace KServe's whole ingress JSON with one lacking
// ingressGateway, which KServe rejects (docs/FACTS.md, KServe ingress
// config).
func CheckIngressEdit() error {
	edit, err := fixtures.FS.ReadFile(IngressEditAsWritten)
	if err != nil {
		return err
	}
	var data map[string]string
	if err := yaml.Unmarshal(edit, &data); err != nil {
		return fmt.Errorf("the document's edit of %s/%s is not valid YAML (%s as printed): %w", install.KServeNamespace, install.KServeConfigMap, IngressEditAsWritten, err)
	}
	ingress := strings.TrimSpace(data[install.KServeIngressKey])
	if !strings.Contains(ingress, "ingressGateway") {
		return fmt.Errorf("the document's edit sets %s to %q, with no ingressGateway, which KServe rejects", install.KServeIngressKey, ingress)
	}
	return nil
}
