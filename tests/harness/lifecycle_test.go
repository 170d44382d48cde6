package harness

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/e2e-framework/pkg/envconf"

	"github.com/secure-inference/mesh-conformance/tests/detect"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/redact"
	"github.com/secure-inference/mesh-conformance/tests/report"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

func TestAFailedStepNeverPrintsASecret(t *testing.T) {
	token := "hf_abcdefghijklmnopqrstuvwxyz0123"
	t.Setenv(options.HuggingFaceTokenEnv, token)
	r := &Run{Suite: "s", Opts: options.Defaults(), Report: report.NewRecorder(reportapi.Environment{}).WithRedactor(redact.New(token)), redact: redact.New(token)}
	_, err := r.setupFunc(Step{Name: "chatqna", Run: func(context.Context, *Env) error {
		return errors.New("helm: values HUGGINGFACEHUB_API_TOKEN=" + token + " rejected")
	}})(context.Background(), envconf.New())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), token, "e2e-framework prints the step's error")
	assert.Contains(t, err.Error(), redact.Redacted)
}

// Every step is handed the one Env provision built; an install step whose
// component the plan found in place does not run.
func TestEveryStepIsHandedTheRunsEnvAndFoundComponentsAreNotInstalled(t *testing.T) {
	r := &Run{Suite: "s", Opts: options.Defaults(), Report: report.NewRecorder(reportapi.Environment{}),
		installPlan: map[string]detect.Step{detect.Istio: {Found: detect.Found{Component: detect.Istio, Installed: true, Version: "1.27.1"}, Why: "found in place"}}}
	r.stepEnv = r.env()
	var handed []*Env
	run := func(_ context.Context, e *Env) error {
		handed = append(handed, e)
		return nil
	}
	for _, st := range []Step{{Name: "istio", Component: detect.Istio, Run: run}, {Name: "auth", Run: run}} {
		_, err := r.setupFunc(st)(context.Background(), envconf.New())
		require.NoError(t, err)
	}
	assert.Equal(t, []*Env{r.stepEnv}, handed, "auth ran with the run's Env; istio, found, did not run")
	assert.Equal(t, []string{"auth"}, r.installed)
}

// Main exits once, with the code of whichever ends the run first; a stop
// (a signal, the deadline) is never overtaken by the run's own end, which
// follows it when the cluster goes away under the steps.
func TestAStopsExitCodeIsNotOvertakenByTheRunsOwn(t *testing.T) {
	r := NewRun(&Suite{Name: "s"})
	r.Opts = options.Defaults()
	r.Opts.OutputDir = t.TempDir()
	r.Report = report.NewRecorder(reportapi.Environment{})
	r.stop("interrupt received: tearing down", "interrupt", 130)
	r.exitWith(1)
	assert.Equal(t, 130, <-r.exit)
	assert.FileExists(t, filepath.Join(r.Opts.OutputDir, report.FileName), "the stop wrote the report before Main exits")

	r = NewRun(&Suite{Name: "s"})
	r.exitWith(0)
	assert.Equal(t, 0, <-r.exit, "no stop: the run's own code")
}

// A dry run whose plan has declaration errors (a control's fixture lacks
// its policy) prints the plan, says so in one line with the error naming
// the fixture, and exits 1: CI fails before a cluster is made.
func TestADryRunWithPlanErrorsExitsOne(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a suite binary")
	}
	bin := buildSuite(t, "./tests/harness/testdata/brokenplan")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--dry-run", "--output-dir="+t.TempDir())
	cmd.Dir = filepath.Join(fromRepoRoot("."), "tests", "harness", "testdata", "brokenplan")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "%v: %s", err, out)
	assert.Equal(t, 1, exit.ExitCode(), "%s", out)
	assert.Contains(t, string(out), "- strict-control [core, control]\n  manifests: kservemesh/auth.yaml\n", "the plan is printed")
	assert.Contains(t, string(out), "  cannot run: check strict-control/fixtures fails: "+brokenControlError, "under the feature")
	assert.Contains(t, string(out), "broken-plan: the plan has errors a real run would fail on:\nstrict-control/fixtures: "+brokenControlError)
	assert.NotContains(t, string(out), "=== RUN", "no test runs")
}
