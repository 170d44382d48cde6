package kservemesh

import (
	"github.com/secure-inference/mesh-conformance/tests/disruption"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
)

// FailClosed is the fail-closed feature's name.
const FailClosed = "fail-closed"

// failClosedFeature takes away in turn istiod, the predictor's pods (a new
// sidecar starts cold) and the activator, while the isolation matrix's
// refused cells and two allowed cells are probed every round: a single
// 2xx on a refused cell fails it; the allowed cells must answer again in
// time after each restoration. Extended: it scales the cluster's control
// plane to zero, so it is claimed only on the suite's own kind cluster.
//
// The activator is off sklearn-iris's path while its pods are ready
// (target burst capacity 0), so taking it away cannot open the refused
// cells; it is on sklearn-iris-burst's path, whose allowed cell shows the
// activator really was gone (its downtime) and came back. Neither istiod's
// HPA (it stops at zero replicas) nor the Knative operator (it sets no
// replicas on the activator) scales a taken component back up.
var failClosedFeature = harness.FailClosed(harness.Feature{Name: FailClosed,
	Manifests: []string{"kservemesh/auth.yaml", "kservemesh/inferenceservices.yaml", "kservemesh/clients.yaml"}},
	func(r *harness.Run) []disruption.Disruption {
		limit := r.Opts.Timeouts.ReadyTimeout
		return []disruption.Disruption{
			disruption.ScaleToZero(r.Kube, "istiod", "istio-system", "istiod", limit),
			disruption.RestartPods(r.Kube, "sidecar-restart", "user1", PredictorSelector(SklearnIris), limit),
			disruption.ScaleToZero(r.Kube, "activator", install.KnativeNamespace, "activator", limit),
		}
	},
	func(*harness.Run) matrix.Matrix { return FailClosedCells() })

// PredictorSelector picks an InferenceService's predictor pods (and, on
// their Deployment's pod template, the Deployment).
func PredictorSelector(isvc string) string {
	return "serving.knative.dev/service=" + isvc + "-predictor"
}

// FailClosedCells are the isolation matrix's refused cells, which must
// never answer 2xx, and two allowed cells, whose downtime is measured: one
// with the activator off the path, one with it on.
func FailClosedCells() matrix.Matrix {
	return Isolation().Only("kserve-fail-closed",
		"user2-to-sklearn-iris-status", "user2-to-sklearn-iris-predict",
		"default-to-sklearn-iris-status", "default-to-sklearn-iris-predict",
		"user1-to-sklearn-iris-status", "user1-to-sklearn-iris-burst-status")
}

// claimFailClosed claims fail-closed on the suite's own kind cluster: on
// anyone else's cluster it runs only when --supported-features names it.
func claimFailClosed(r *harness.Run) {
	if r.Opts.OwnKindCluster() {
		r.Claim(FailClosed)
	}
}
