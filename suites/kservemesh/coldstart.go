package kservemesh

import (
	"time"

	"github.com/secure-inference/mesh-conformance/tests/coldstart"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// coldStartFeature is cold-start-isolation: sklearn-iris-cold scales to
// zero, and while it wakes the activator is on its path. From user2 and
// default one request is sent while it is cold (recorded as it came: the
// document's own limitation may serve it), repeated after each scale-down;
// the verdict is the warm matrix: once ready again, both are refused. The
// warm verdict keeps the model warm with user1's request (its first cell)
// every round and is void if the model is seen cold meanwhile, since its
// stable window is 6 s (inferenceservice-cold.yaml). Under the hardened
// profile the activator's policies refuse both callers while cold too, so
// a cold request's 2xx fails the feature (coldStartSpec.ServedFails).
var coldStartFeature = harness.ColdStart(harness.Feature{
	Name: "cold-start-isolation", Applies: options.Corrected, Manifests: []string{"kservemesh/inferenceservice-cold.yaml", "kservemesh/auth.yaml"},
	Limit: coldStartLimit,
}, coldStartSpec)

var coldStartSpec = harness.ColdStartSpec{
	Target: func(e *harness.Env) coldstart.Target {
		return Predictor{Kube: e.Kube, Dynamic: e.Apply.Dynamic, Namespace: "user1", ISVC: SklearnIrisCold}
	},
	Clients: ColdClients,
	Request: ModelRequest(SklearnIrisCold),
	Note:    activatorNote(ColdStartNote),
	Warm:    func(options.Options) matrix.Matrix { return ColdStartWarm() },
	// The documented setup leaves the activator open (a finding); the
	// hardened one closes it, so a cold request served is a verdict.
	ServedFails: hardened,
}

// coldStartLimit: each cold sequence (per repeat and client) waits for the
// scale to zero, then for the cold request and the model to be ready
// again; the warm verdict waits for Serve mode, then converges.
func coldStartLimit(o options.Options) time.Duration {
	t := o.Timeouts
	seq := t.ReadyTimeout + t.ColdStartTimeout + t.ReadyTimeout
	return time.Duration(o.ColdStartRepeats*len(ColdClients))*seq + t.ColdStartTimeout + t.ReadyTimeout + harness.Settings(t).Longest()
}
