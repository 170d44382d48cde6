package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/diagnostics"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	"github.com/secure-inference/mesh-conformance/tests/provenance"
	"github.com/secure-inference/mesh-conformance/tests/ready"
	"github.com/secure-inference/mesh-conformance/tests/report"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// diagnose writes a bundle for a failed setup step or check, under
// <output>/diagnostics/<name>. Before the cluster answers there is nothing
// to collect.
func (r *Run) diagnose(name string, err error) {
	if r.Diagnostics == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), diagnoseTimeout)
	defer cancel()
	r.Logf("diagnostics of %s: writing the bundle", name)
	r.bundle(ctx, name, diagnostics.Failure{Summary: name + ": " + err.Error() + "\n", Namespaces: r.namespaces, ProxyNamespaces: r.namespaces})
}

// diagnoseTimeout bounds the writing of one bundle.
const diagnoseTimeout = 3 * time.Minute

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9/_.-]+`)

func (r *Run) bundle(ctx context.Context, name string, f diagnostics.Failure) {
	dir := filepath.Join(r.Opts.OutputDir, "diagnostics", strings.ReplaceAll(unsafeName.ReplaceAllString(name, "-"), "..", "-"))
	files, err := r.Diagnostics.Bundle(ctx, dir, f)
	if err != nil {
		r.Logf("diagnostics of %s: %v", name, err)
		return
	}
	r.Logf("diagnostics of %s: %d files in %s", name, len(files), dir)
}

// BaselineMeaning is what a failed baseline does to every other verdict.
const BaselineMeaning = "the baseline failed: this cluster's plain networking or the probe's classification is broken, so the mesh verdicts of this run mean nothing"

// MarkBaselineFailed records that the baseline failed, as a check of the
// feature running in ctx (the baseline's).
func (r *Run) MarkBaselineFailed(ctx context.Context) {
	r.baselineFailed.Store(true)
	r.scope(ctx).Check("baseline", fmt.Errorf("%s", BaselineMeaning))
}

// scope is where a feature's step records: the scope of the feature that
// ctx carries. Every feature's context carries one (newFeatureRun's first setup), so
// a context without is the harness's own bug: the result is kept, under
// the suite's setup, beside a failed check that says so, never dropped or
// filed silently where nobody looks.
func (r *Run) scope(ctx context.Context) *report.Scope {
	if s := report.ScopeOf(ctx); s != nil {
		return s
	}
	setup := r.Report.Setup(r.Suite)
	setup.Check("unscoped-result", errors.New("the harness recorded a result outside any feature (its context carries no feature scope): it is kept under the suite's setup; report this as a bug of the harness"))
	return setup
}

// Resolve finds a ready pod of a matrix client.
func (r *Run) Resolve(ctx context.Context, c matrix.Client) (probe.Pod, error) {
	if c.Local {
		return probe.Pod{Local: true}, nil
	}
	p, err := ready.Pod(ctx, r.Kube, c.Namespace, c.Selector, r.Opts.Timeouts.ReadyTimeout)
	if err != nil {
		return probe.Pod{}, err
	}
	return probe.Pod{Namespace: p.Namespace, Name: p.Name, Container: c.Container}, nil
}

// Settings turns the timeouts into matrix settings.
func Settings(t options.TimeoutConfig) matrix.Settings {
	return matrix.Settings{RequestTimeout: t.RequestTimeout, MaxTimeToConsistency: t.MaxTimeToConsistency,
		RequiredConsecutiveSuccesses: t.RequiredConsecutiveSuccesses, RoundInterval: t.RoundInterval}
}

// Matrix runs a matrix, records it in the report, prints the table and
// fails t with it when a cell did not pass.
func (r *Run) Matrix(ctx context.Context, t *testing.T, m matrix.Matrix) matrix.Result {
	t.Helper()
	return r.judge(ctx, t, matrix.Run(ctx, m, r.Exec, r.Resolve, Settings(r.Opts.Timeouts)))
}

// judge records a matrix result, prints its table and fails t with it when
// a cell did not pass.
func (r *Run) judge(ctx context.Context, t *testing.T, res matrix.Result) matrix.Result {
	t.Helper()
	r.scope(ctx).Matrix(ReportMatrix(res))
	if r.baselineFailed.Load() {
		t.Errorf("%s", BaselineMeaning)
	}
	t.Log("\n" + r.redact.String(res.Table()))
	if !res.Passed() {
		if env := len(res.EnvironmentErrors()); env > 0 {
			t.Errorf("matrix %s: %d of %d cells failed, %d of them by environment errors (no verdict: the probe could not run; table above)",
				res.Matrix, len(res.Failed()), len(res.Cells), env)
		} else {
			t.Errorf("matrix %s: %d of %d cells failed (table above)", res.Matrix, len(res.Failed()), len(res.Cells))
		}
		r.bundle(ctx, res.Matrix, diagnostics.MatrixFailure(res))
	}
	return res
}

// Check records a named check of the feature that ctx carries (its
// assessment's or teardown's context) and fails t when err is set.
func (r *Run) Check(ctx context.Context, t *testing.T, name string, err error) {
	t.Helper()
	r.scope(ctx).Check(name, err)
	if err != nil {
		t.Errorf("%s: %s", name, r.redact.String(err.Error()))
		r.diagnose(name, err)
	}
}

// provenance gathers what the verdicts rest on, bounded: the suite's
// source and fixtures, the charts installed, what the cluster ran.
func (r *Run) provenance() *reportapi.Provenance {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := &reportapi.Provenance{Suite: provenance.SourceOf(ctx, fromRepoRoot(".")), Reproduce: provenance.Reproduce(os.Args)}
	p.Fixtures, _ = provenance.Digests(fixtures.FS)
	if r.declared != nil && r.declared.Steps != nil {
		p.Deviations = r.declared.deviations(r.Opts, r.declared.Steps(r.Opts))
	}
	if r.Installer != nil {
		for _, c := range r.Installer.Helm.Installed {
			p.Charts = append(p.Charts, reportapi.Chart{Release: c.Release, Namespace: c.Namespace, Chart: c.Chart, Version: c.Version, Source: c.Source, Digest: c.Digest})
		}
	}
	if r.Kube != nil {
		namespaces := append([]string{"istio-system", "istio-ingress", "cert-manager", "knative-serving", "kserve"}, r.namespaces...)
		if c, err := provenance.ClusterOf(ctx, r.Kube, namespaces); err == nil {
			p.Cluster = c
		} else {
			r.Logf("provenance: the cluster's part is missing: %v", err)
		}
	}
	return p
}
