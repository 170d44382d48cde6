package kservemesh

import (
	"context"
	"testing"
	"time"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

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
// stable window is 6 s (inferenceservice-cold.yaml).
var coldStartFeature = harness.Feature{
	Name: "cold-start-isolation", Kind: "matrix", Manifests: []string{"kservemesh/inferenceservice-cold.yaml", "kservemesh/auth.yaml"},
	// The cold requests are findings, not cells: the warm matrix is the verdict.
	Matrices: func(*harness.Run) []matrix.Matrix { return []matrix.Matrix{ColdStartWarm()} },
	Limit:    coldStartLimit,
	Body: func(r *harness.Run, name string, b *features.FeatureBuilder) *features.FeatureBuilder {
		return b.Assess("cold-requests-recorded", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			target := Predictor{Kube: r.Kube, Dynamic: r.Apply.Dynamic, Namespace: "user1", ISVC: SklearnIrisCold}
			r.ColdSequences(ctx, t, name+"/cold", target, ColdClients,
				ModelRequest(SklearnIrisCold), r.Opts.ColdStartRepeats, ColdStartNote)
			return ctx
		}).
			Assess("refused-once-warm", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
				target := Predictor{Kube: r.Kube, Dynamic: r.Apply.Dynamic, Namespace: "user1", ISVC: SklearnIrisCold}
				warm := ColdStartWarm()
				r.WarmMatrix(ctx, t, name+"/warm", target, warm.Cells[0], warm)
				return ctx
			})
	},
}

// coldStartLimit: each cold sequence (per repeat and client) waits for the
// scale to zero, then for the cold request and the model to be ready
// again; the warm verdict waits for Serve mode, then converges.
func coldStartLimit(o options.Options) time.Duration {
	t := o.Timeouts
	seq := t.ReadyTimeout + t.ColdStartTimeout + t.ReadyTimeout
	return time.Duration(o.ColdStartRepeats*len(ColdClients))*seq + t.ColdStartTimeout + t.ReadyTimeout + harness.Settings(t).Longest()
}
