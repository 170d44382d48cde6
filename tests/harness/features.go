package harness

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/tests/matrix"
)

// Test runs a suite's features in order, skipping the exempt ones: each is
// recorded as skipped, which makes the suite partial, never success. An
// exempt name that is no feature of the suite fails the test.
func (r *Run) Test(t *testing.T, fs ...features.Feature) {
	t.Helper()
	names := map[string]bool{}
	for _, f := range fs {
		names[f.Name()] = true
	}
	exempt := map[string]bool{}
	for _, e := range r.Opts.ExemptFeatures {
		if !names[e] {
			t.Fatalf("--exempt-features %q: no such feature in suite %s; its features are %s", e, r.Suite, featureNames(fs))
		}
		exempt[e] = true
	}
	var run []features.Feature
	for _, f := range fs {
		if exempt[f.Name()] {
			r.Report.Skip(r.Suite, f.Name(), "exempt (--exempt-features)")
			continue
		}
		run = append(run, f)
	}
	r.Env.Test(t, run...)
}

func featureNames(fs []features.Feature) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name())
	}
	return strings.Join(out, ", ")
}

// Feature starts a feature labelled with the suite and its kind (premise,
// matrix, control, baseline, cleanup), for --labels selection.
func (r *Run) Feature(name, kind string) *features.FeatureBuilder {
	return features.New(name).WithLabel("suite", r.Suite).WithLabel("kind", kind)
}

// MatrixFeature is a feature whose one assessment runs a matrix, built when
// the assessment runs (it may need what setup created, such as addresses).
func (r *Run) MatrixFeature(name, assess string, build func(ctx context.Context, t *testing.T) matrix.Matrix) features.Feature {
	return r.Feature(name, "matrix").
		Assess(assess, func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			r.Matrix(ctx, t, build(ctx, t))
			return ctx
		}).Feature()
}

// ControlFeature proves that a refusal comes from the given resources: with
// them removed the control matrix must pass (the refused request now
// answers), and with them restored the restored matrix must pass again. A
// suite that passes with its policy absent would be worse than none.
func (r *Run) ControlFeature(name string, resources []*unstructured.Unstructured, without, restored matrix.Matrix) features.Feature {
	return r.Feature(name, "control").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			r.Check(t, name+"/remove", r.Apply.Delete(ctx, resources...))
			return ctx
		}).
		Assess("refused-cell-answers-without-it", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			r.Matrix(ctx, t, without)
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			r.Check(t, name+"/restore", r.Apply.Apply(ctx, resources...))
			r.Matrix(ctx, t, restored)
			return ctx
		}).Feature()
}
