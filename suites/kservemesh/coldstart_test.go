package kservemesh

import (
	"context"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/tests/cases"
	"github.com/secure-inference/mesh-conformance/tests/install"
)

// coldStartFeature is cold-start-isolation: sklearn-iris-cold scales to
// zero, and while it wakes the activator is on its path. From user2 and
// default one request is sent while it is cold (recorded as it came: the
// document's own limitation may serve it), repeated after each scale-down;
// the verdict is the warm matrix: once ready again, both are refused.
func coldStartFeature() features.Feature {
	return run.Feature("cold-start-isolation", "matrix").
		Assess("cold-requests-recorded", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			target := install.Predictor{Kube: run.Kube, Dynamic: run.Apply.Dynamic, Namespace: "user1", ISVC: cases.SklearnIrisCold}
			run.ColdSequences(ctx, t, "cold-start-isolation/cold", target, cases.KServeColdClients,
				cases.ModelRequest(cases.SklearnIrisCold), run.Opts.ColdStartRepeats, cases.ColdStartNote)
			return ctx
		}).
		Assess("refused-once-warm", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run.Matrix(ctx, t, cases.KServeColdStartWarm())
			return ctx
		}).Feature()
}
