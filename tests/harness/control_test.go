package harness

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/yaml"

	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/report"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

const brokenControlChildEnv = "MC_HARNESS_BROKEN_CONTROL_CHILD"

// brokenControl names a policy its fixture does not have: declaring it
// decodes nothing, so it cannot panic at package initialisation.
var brokenControl = Control(Feature{Name: "strict-control"},
	[]PolicyFixture{{File: "kservemesh/auth.yaml", Kind: "PeerAuthentication", Name: "absent"}},
	func(options.Options) matrix.Matrix { return matrix.Matrix{Name: "without"} },
	func(options.Options) matrix.Matrix { return matrix.Matrix{Name: "restored"} })

const brokenControlError = "fixtures/kservemesh/auth.yaml has no PeerAuthentication absent"

// A control whose policy fixture does not decode fails its own check,
// naming the fixture; the run goes on to the next feature, and the plan
// prints the same error under the feature. The run is a child process
// (this test binary again), since the control's test must fail.
func TestAControlWithABrokenFixtureFailsAsATest(t *testing.T) {
	if os.Getenv(brokenControlChildEnv) != "" {
		runBrokenControl(t)
		return
	}
	assert.Equal(t, []string{"kservemesh/auth.yaml"}, brokenControl.Manifests, "the policies' fixtures")
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAControlWithABrokenFixtureFailsAsATest$", "-test.v")
	cmd.Env = append(os.Environ(), brokenControlChildEnv+"=1", "MC_HARNESS_DIR="+dir)
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the control's test fails:\n%s", out)
	assert.Contains(t, string(out), "- strict-control [core, control]\n  manifests: kservemesh/auth.yaml\n")
	assert.Contains(t, string(out), "  cannot run: check strict-control/fixtures fails: "+brokenControlError, "the plan")
	assert.Contains(t, string(out), "strict-control/fixtures: "+brokenControlError, "the test")
	assert.NotContains(t, string(out), "panic")

	data, err := os.ReadFile(filepath.Join(dir, report.FileName))
	require.NoError(t, err, "%s", out)
	var rep reportapi.Report
	require.NoError(t, yaml.Unmarshal(data, &rep))
	results := map[string]reportapi.Result{}
	for _, f := range rep.Suites[0].Features {
		results[f.Name] = f.Result
	}
	assert.Equal(t, map[string]reportapi.Result{"strict-control": reportapi.Failure, "after-it": reportapi.Success}, results)
	checks := map[string]string{}
	for _, c := range rep.Suites[0].Checks {
		checks[c.Name] = c.Message
	}
	assert.Contains(t, checks["strict-control/fixtures"], brokenControlError)
}

// runBrokenControl is the child: the plan, then the run.
func runBrokenControl(t *testing.T) {
	cfg := envconf.New()
	r := &Run{Suite: "s", Opts: options.Defaults(), Config: cfg, testenv: env.NewWithConfig(cfg), Report: report.NewRecorder(reportapi.Environment{})}
	defer func() { _, _ = r.Report.Write(os.Getenv("MC_HARNESS_DIR")) }()
	(&Suite{Name: "s", Features: []Feature{brokenControl}}).plan(os.Stdout, r, nil)
	after := Feature{Name: "after-it", Kind: KindMatrix, Checks: []Check{{Name: "check", Run: func(context.Context, *Env) error { return nil }}}}
	r.Test(t, brokenControl, after)
}
