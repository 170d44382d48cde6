package kservemesh

import (
	"github.com/secure-inference/mesh-conformance/tests/disruption"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// FailClosed is the fail-closed feature's name.
const FailClosed = "fail-closed"

// failClosedFeature takes away in turn istiod and httpbin's pods (new
// ones start with a cold sidecar) while httpbin's refused cells and
// user1's allowed cell are probed every round: a single 2xx on a refused
// cell fails it; the allowed cell must answer again in time after each
// restoration. Extended: it scales the cluster's control plane to zero,
// so it is claimed by default only on the suite's own kind cluster. istiod's HPA
// stops at zero replicas, so nothing scales it back behind the feature.
//
// The target is httpbin, a user1 workload under the same policy that
// Knative does not front, so a 2xx there is the mesh failing open. A
// predictor is no such target: with no ready pod (its pods restarting)
// Knative's ServerlessService reconciler points the revision's endpoints
// at the activator ("Forcing SKS into Proxy mode, insufficient ready
// endpoints", serving knative-v1.21.1
// pkg/reconciler/serverlessservice/serverlessservice.go), which holds the
// requests (pkg/activator/net/throttler.go) and forwards them under its
// own identity, which the document's knative-serving rule admits: a 200
// that is the document's limitation, measured by restart-isolation.
//
// The activator is not taken away: with no activator endpoints the same
// reconciler forces every ServerlessService into Serve ("Forcing SKS into
// Serve mode, no activator endpoints"), so the revisions are served
// straight by their pods and no refused cell depends on the activator
// being there; the disruption showed only a short downtime of a burst
// model's allowed cell, and nothing about the mesh.
var failClosedFeature = harness.FailClosed(harness.Feature{Name: FailClosed, ClaimedOnOwnCluster: true, Applies: options.Corrected,
	Manifests: []string{"kservemesh/auth.yaml", "kservemesh/httpbin.yaml", "kservemesh/clients.yaml"}},
	func(e *harness.Env) []disruption.Disruption {
		limit := e.Opts.Timeouts.ReadyTimeout
		return []disruption.Disruption{
			disruption.ScaleToZero(e.Kube, "istiod", "istio-system", "istiod", limit),
			disruption.RestartPods(e.Kube, "sidecar-restart", "user1", HTTPBinSelector, limit),
		}
	},
	func(options.Options) matrix.Matrix { return FailClosedCells() })

// HTTPBinSelector picks httpbin's pods (fixtures/kservemesh/httpbin.yaml).
const HTTPBinSelector = "app=httpbin"

// PredictorSelector picks an InferenceService's predictor pods (and, on
// their Deployment's pod template, the Deployment).
func PredictorSelector(isvc string) string {
	return "serving.knative.dev/service=" + isvc + "-predictor"
}

// FailClosedCells are the refused cells to httpbin, which must never
// answer 2xx (user2 refused by the policy, default's plaintext reset by
// STRICT), and user1's allowed cell, whose downtime is measured.
func FailClosedCells() matrix.Matrix {
	m := Isolation().Only("kserve-fail-closed", "user2-to-httpbin", "user1-to-httpbin")
	m.Cells = append(m.Cells, StrictMTLS().Only(m.Name, "default-to-httpbin-plaintext").Cells...)
	return m
}
