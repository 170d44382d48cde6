// Package cases holds each suite's reachability matrices as data: clients,
// requests and expectations, apart from any install. The suites run them on
// the documented setups; the offline lab runs the very same cells against
// stand-in targets to prove the harness (not KServe, not OPEA).
package cases

import (
	"fmt"

	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// The KServe suite's clients: sleep (curl) in user1, which has a sidecar,
// and in default, which has none. Requests run in the "sleep" application
// container, never in istio-proxy.
var (
	KServeUser1   = matrix.Client{Name: "user1", Namespace: "user1", Selector: "app=sleep", Container: "sleep"}
	KServeDefault = matrix.Client{Name: "default", Namespace: "default", Selector: "app=sleep", Container: "sleep"}
)

// InferenceServices of the KServe suite.
const (
	SklearnIris      = "sklearn-iris"       // activator off the path (target burst capacity 0)
	SklearnIrisBurst = "sklearn-iris-burst" // activator on the path
)

// ActivatorLimitation explains the one allowed cross-namespace cell.
const ActivatorLimitation = "documented activator limitation (knative net-istio issue 554): the activator in knative-serving proxies the request, " +
	"and the policy's knative-serving rule admits it whatever its origin; this 200 is the document's expectation, not namespace isolation"

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

// KServeIsolation is the document's matrix, by model status and by predict:
// from user1 both models answer; from default, sklearn-iris is denied with
// 403 "RBAC: access denied" and sklearn-iris-burst answers through the
// activator.
func KServeIsolation() matrix.Matrix {
	var cells []matrix.Cell
	for _, isvc := range []string{SklearnIris, SklearnIrisBurst} {
		for _, from := range []matrix.Client{KServeUser1, KServeDefault} {
			status := matrix.Expect(matrix.Allowed).WithBody(`"ready":true`)
			predict := matrix.Expect(matrix.Allowed).WithBody(`"predictions"`)
			switch {
			case from == KServeDefault && isvc == SklearnIris:
				// The document runs this setup with sidecars: a 403 from the
				// predictor's sidecar.
				status = matrix.DeniedByPolicy(options.ModeSidecar)
				predict = status
			case from == KServeDefault:
				status, predict = status.WithNote(ActivatorLimitation), predict.WithNote(ActivatorLimitation)
			}
			cells = append(cells,
				matrix.Cell{Name: from.Name + "-to-" + isvc + "-status", Client: from, Request: ModelRequest(isvc), Expect: status},
				matrix.Cell{Name: from.Name + "-to-" + isvc + "-predict", Client: from, Request: PredictRequest(isvc), Expect: predict})
		}
	}
	return matrix.Matrix{Name: "kserve-namespace-isolation", Cells: cells}
}

// KServePolicyControl is the control: with the AuthorizationPolicy removed,
// the denied cells must answer 200, or the 403 did not come from the policy.
func KServePolicyControl() matrix.Matrix {
	allowed := matrix.Expect(matrix.Allowed).WithNote("control: AuthorizationPolicy allow-serving-tests removed")
	return matrix.Matrix{Name: "kserve-policy-control", Cells: []matrix.Cell{
		{Name: "default-to-sklearn-iris-status-without-policy", Client: KServeDefault, Request: ModelRequest(SklearnIris), Expect: allowed.WithBody(`"ready":true`)},
	}}
}

// KServeMTLSIdentity proves an allowed in-mesh call was mTLS: httpbin echoes
// the X-Forwarded-Client-Cert header its sidecar adds, which carries the
// caller's SPIFFE identity.
func KServeMTLSIdentity() matrix.Matrix {
	return matrix.Matrix{Name: "kserve-mtls-identity", Cells: []matrix.Cell{{
		Name:    "user1-to-httpbin-headers",
		Client:  KServeUser1,
		Request: probe.Request{URL: "http://httpbin.user1.svc.cluster.local:8000/headers"},
		Expect:  matrix.Expect(matrix.Allowed).WithBody("URI=spiffe://cluster.local/ns/user1/sa/sleep"),
	}}}
}
