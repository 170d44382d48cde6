// Package preflight is the baseline every run executes first: plain DNS,
// Service routing, exec and curl, and the probe's classification of
// refusals, DNS failures and timeouts on the cluster's own network. When it
// fails, the mesh suites' verdicts would mean nothing, and the run says so.
package preflight

import (
	"context"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/cases"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

// Fixture holds the baseline workloads.
const Fixture = "baseline/workloads.yaml"

// Deploy applies the baseline workloads and waits for them.
func Deploy(r *harness.Run) func(ctx context.Context) error {
	r.DiagnoseNamespaces(cases.BaselineClient.Namespace)
	return func(ctx context.Context) error {
		if err := fixtures.Apply(ctx, r.Apply, Fixture); err != nil {
			return err
		}
		return ready.Deployments(ctx, r.Kube, cases.BaselineClient.Namespace, "", r.Opts.Timeouts.ReadyTimeout)
	}
}

// Feature runs the baseline matrix; on failure it marks the run so that
// every later matrix says its verdict means nothing.
func Feature(r *harness.Run) features.Feature {
	return r.Feature("baseline", "baseline").
		Assess("plain-networking-and-classification", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			if res := r.Matrix(ctx, t, cases.Baseline()); !res.Passed() {
				r.MarkBaselineFailed(ctx)
			}
			return ctx
		}).Feature()
}
