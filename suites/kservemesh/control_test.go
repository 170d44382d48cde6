package kservemesh

import (
	"context"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/cases"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
)

// policyControlFeature proves the 403 comes from the AuthorizationPolicy:
// without it the denied cell answers 200; with it restored, 403 again.
func policyControlFeature() features.Feature {
	var policy = fixtures.MustLoad("kservemesh/auth.yaml")[1:] // the AuthorizationPolicy
	return features.New("policy-control").WithLabel("suite", suite).WithLabel("kind", "control").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run.Check(t, "policy-control/remove-policy", run.Apply.Delete(ctx, policy...))
			return ctx
		}).
		Assess("denied-cell-answers-without-policy", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run.Matrix(ctx, t, cases.KServePolicyControl())
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run.Check(t, "policy-control/restore-policy", run.Apply.Apply(ctx, policy...))
			restored := matrix.Matrix{Name: "kserve-policy-restored"}
			for _, c := range cases.KServeIsolation().Cells {
				if c.Client == cases.KServeDefault && c.Request.URL == cases.ModelRequest(cases.SklearnIris).URL {
					restored.Cells = append(restored.Cells, c)
				}
			}
			run.Matrix(ctx, t, restored)
			return ctx
		}).Feature()
}
