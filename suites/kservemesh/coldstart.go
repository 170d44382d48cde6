package kservemesh

import (
	"context"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
)

// coldStartFeature is cold-start-isolation: sklearn-iris-cold scales to
// zero, and while it wakes the activator is on its path. From user2 and
// default one request is sent while it is cold (recorded as it came: the
// document's own limitation may serve it), repeated after each scale-down;
// the verdict is the warm matrix: once ready again, both are refused.
var coldStartFeature = harness.Feature{
	Name: "cold-start-isolation", Kind: "matrix", Manifests: []string{"kservemesh/inferenceservice-cold.yaml", "kservemesh/auth.yaml"},
	// The cold requests are findings, not cells: the warm matrix is the verdict.
	Matrices: func(*harness.Run) []matrix.Matrix { return []matrix.Matrix{ColdStartWarm()} },
	Body: func(r *harness.Run, name string, b *features.FeatureBuilder) *features.FeatureBuilder {
		return b.Assess("cold-requests-recorded", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			target := install.Predictor{Kube: r.Kube, Dynamic: r.Apply.Dynamic, Namespace: "user1", ISVC: SklearnIrisCold}
			r.ColdSequences(ctx, t, name+"/cold", target, ColdClients,
				ModelRequest(SklearnIrisCold), r.Opts.ColdStartRepeats, ColdStartNote)
			return ctx
		}).
			Assess("refused-once-warm", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
				r.Matrix(ctx, t, ColdStartWarm())
				return ctx
			})
	},
}
