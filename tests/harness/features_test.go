package harness

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	"sigs.k8s.io/yaml"

	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/report"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// Features that fail must fail their test, so the recording is exercised
// in a child process (this test binary run again) whose report the parent
// reads.

const childEnv = "MC_HARNESS_CHILD"

func TestFeatureResultsAndProfiles(t *testing.T) {
	rep := runChild(t, "all")
	require.Len(t, rep.Suites, 1)
	s := rep.Suites[0]
	got := map[string]reportapi.Feature{}
	for _, f := range s.Features {
		got[f.Name] = f
	}
	for name, want := range map[string]reportapi.Result{
		"core-passes": reportapi.Success, "core-fails": reportapi.Failure, "core-exempt": reportapi.Skipped,
		"core-not-selected": reportapi.Skipped, "core-one-assessment-left-out": reportapi.Skipped,
		"core-fatal-in-setup": reportapi.Failure, "extended-claimed": reportapi.Success,
		"extended-claimed-fails": reportapi.Failure, "extended-unclaimed": reportapi.Skipped,
	} {
		assert.Equal(t, want, got[name].Result, "%s: %s", name, got[name].Message)
	}
	assert.True(t, got["extended-unclaimed"].Unsupported)
	assert.Contains(t, got["extended-unclaimed"].Message, "--supported-features=extended-unclaimed")
	assert.Contains(t, got["core-fatal-in-setup"].Message, "fatal")
	assert.Contains(t, got["core-one-assessment-left-out"].Message, "1 of 2 assessments ran")

	assert.Equal(t, reportapi.Failure, s.Core.Result)
	assert.Equal(t, reportapi.Statistics{Passed: 1, Failed: 2, Skipped: 3}, s.Core.Statistics)
	assert.ElementsMatch(t, []string{"core-fails", "core-fatal-in-setup"}, s.Core.FailedFeatures)
	require.NotNil(t, s.Extended)
	assert.Equal(t, reportapi.Failure, s.Extended.Result)
	assert.Equal(t, []string{"extended-claimed", "extended-claimed-fails"}, s.Extended.SupportedFeatures)
	assert.Equal(t, []string{"extended-unclaimed"}, s.Extended.UnsupportedFeatures)

	// Every check belongs to the feature whose context it was recorded
	// in; the check of a failing extended feature does not touch the core
	// result.
	owner := map[string]string{}
	for _, c := range s.Checks {
		owner[c.Name] = c.Feature
	}
	assert.Equal(t, map[string]string{"core-passes/check": "core-passes", "core-fails/check": "core-fails",
		"core-one-assessment-left-out/check": "core-one-assessment-left-out", "extended-claimed/check": "extended-claimed",
		"extended-claimed-fails/check": "extended-claimed-fails"}, owner)
}

// A signal records the features under way before the report is written:
// one whose test failed has failed, any other has no verdict (skipped),
// and the feature's own teardown, coming later, changes neither.
func TestInterruptedFeatures(t *testing.T) {
	s := runChild(t, "interrupt").Suites[0]
	got := map[string]reportapi.Feature{}
	for _, f := range s.Features {
		got[f.Name] = f
	}
	assert.Equal(t, reportapi.Failure, got["core-fails-then-interrupted"].Result)
	assert.Equal(t, reportapi.Skipped, got["core-interrupted"].Result)
	assert.Contains(t, got["core-interrupted"].Message, "interrupted (terminated)")
	assert.Equal(t, reportapi.Failure, s.Core.Result)
	assert.Len(t, s.Features, 2, "each feature recorded once")
}

func TestUnclaimedExtendedFeaturesChangeNoResult(t *testing.T) {
	s := runChild(t, "core-only").Suites[0]
	assert.Equal(t, reportapi.Success, s.Core.Result)
	assert.Equal(t, reportapi.Success, s.Result, "an unclaimed extended feature is unsupported, not a skip of the suite")
	assert.Equal(t, []string{"extended-unclaimed"}, s.Extended.UnsupportedFeatures)
	assert.Empty(t, s.Extended.Result, "nothing claimed, nothing to judge")
}

func TestClaimingACoreOrUnknownFeatureIsAnError(t *testing.T) {
	for _, c := range []struct{ mode, want string }{
		{"claim-core", `"core-passes": a core feature, always claimed`},
		{"claim-unknown", `"nope": no such feature in suite s; its extended features are extended-claimed, extended-claimed-fails, extended-unclaimed`},
		{"exempt-unknown", `--exempt-features "nope": no such feature`},
	} {
		out, err := child(t, c.mode, t.TempDir())
		require.Error(t, err)
		assert.Contains(t, out, c.want)
	}
}

func runChild(t *testing.T, mode string) reportapi.Report {
	t.Helper()
	dir := t.TempDir()
	out, _ := child(t, mode, dir)
	data, err := os.ReadFile(filepath.Join(dir, report.FileName))
	require.NoError(t, err, out)
	var rep reportapi.Report
	require.NoError(t, yaml.Unmarshal(data, &rep))
	return rep
}

func child(t *testing.T, mode, dir string) (string, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildFeatures$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "MC_HARNESS_DIR="+dir)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestChildFeatures is the child: it runs only under childEnv.
func TestChildFeatures(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		t.Skip("run by TestFeatureResultsAndProfiles")
	}
	cfg := envconf.New().WithFeatureRegex("^(core|extended)-[a-z-]+$").WithSkipFeatureRegex("core-not-selected").
		WithSkipAssessmentRegex("left-out")
	r := &Run{Suite: "s", Opts: options.Defaults(), Config: cfg, testenv: env.NewWithConfig(cfg), Report: report.NewRecorder(reportapi.Environment{})}
	defer func() { _, _ = r.Report.Write(os.Getenv("MC_HARNESS_DIR")) }()

	// Features are declared as the suites declare them: checks, and in
	// one case a body of the harness's own (a builder's).
	check := func(name string, err error) Check {
		return Check{Name: name, Run: func(context.Context, *Env) error { return err }}
	}
	feature := func(name string, support Support, checks ...Check) Feature {
		return Feature{Name: name, Kind: KindMatrix, Support: support, Checks: checks}
	}
	pass := func(name string, support Support) Feature { return feature(name, support, check("check", nil)) }
	fail := func(name string, support Support) Feature {
		return feature(name, support, check("check", errors.New("refused cell answered")))
	}
	if mode == "facts" {
		factsChild(t, r)
		return
	}
	if mode == "interrupt" {
		// The signal handler's part, called where a signal would land:
		// after a check that failed, or passed.
		interrupt := func(name string, err error) Feature {
			return feature(name, Core, check("refused", err), Check{Name: "signal", Run: func(context.Context, *Env) error {
				r.stopRunning("terminated")
				return nil
			}})
		}
		r.Test(t, interrupt("core-fails-then-interrupted", errors.New("answered")), interrupt("core-interrupted", nil))
		return
	}
	if mode == "core-only" {
		r.Test(t, pass("core-passes", ""), pass("extended-unclaimed", Extended))
		return
	}
	r.Opts.ExemptFeatures = []string{"s/core-exempt", "other-suite/no-such-feature-here"}
	r.Opts.SupportedFeatures = []string{"extended-claimed", "other-suite/extended-elsewhere"}
	switch mode {
	case "claim-core":
		r.Opts.SupportedFeatures = []string{"core-passes"}
	case "claim-unknown":
		r.Opts.SupportedFeatures = []string{"nope"}
	case "exempt-unknown":
		r.Opts.ExemptFeatures = []string{"nope"}
	}
	claimedHere := pass("extended-claimed-fails", Extended)
	claimedHere.Checks[0] = check("check", errors.New("no TLS"))
	claimedHere.ClaimedOnOwnCluster = true // and the run's cluster is its own
	fatal := feature("core-fatal-in-setup", Core)
	fatal.Kind, fatal.body = KindControl, func(_ *Run, b *features.FeatureBuilder) *features.FeatureBuilder {
		return b.Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			t.Fatal("cannot remove the policy")
			return ctx
		})
	}
	r.Test(t,
		pass("core-passes", ""),
		fail("core-fails", ""),
		pass("core-exempt", ""),
		pass("core-not-selected", ""),
		feature("core-one-assessment-left-out", "", check("check", nil), check("left-out", nil)),
		fatal,
		pass("extended-claimed", Extended),
		claimedHere,
		pass("extended-unclaimed", Extended),
	)
}

func TestFeatureNamesMayNameTheirSuite(t *testing.T) {
	r := &Run{Suite: "opeaistio", Opts: options.Defaults()}
	assert.Equal(t, []string{"cleanup", "strict-control"}, r.ForThisSuite([]string{"cleanup", "kservemesh/policy-control", "opeaistio/strict-control"}))

	hostTLS := Feature{Name: "host-tls-ingress", Support: Extended}
	assert.False(t, r.Claimed(hostTLS))
	r.Opts.SupportedFeatures = []string{"opeaistio/host-tls-ingress"}
	assert.True(t, r.Claimed(hostTLS))
	r.Opts.ExemptFeatures = []string{"host-tls-ingress"}
	assert.False(t, r.Claimed(hostTLS), "an exempt feature does not run, claimed or not")
	r.Opts = options.Defaults()
	r.Opts.AllFeatures = true
	assert.True(t, r.Claimed(hostTLS))
}

// A feature claimed on its own cluster is claimed when the run creates the
// suite's kind cluster, and not on anyone else's cluster (nor on a kind
// cluster of another configuration), unless a flag claims it.
func TestClaimedOnOwnClusterIsData(t *testing.T) {
	f := Feature{Name: "fail-closed", Support: Extended, ClaimedOnOwnCluster: true}
	r := &Run{Suite: "s", Opts: options.Defaults()}
	require.True(t, r.Opts.OwnKindCluster())
	assert.True(t, r.Claimed(f))
	r.Opts.Cluster.Kubeconfig = "/home/me/.kube/config"
	assert.False(t, r.Claimed(f), "the user's cluster")
	r.Opts.SupportedFeatures = []string{"fail-closed"}
	assert.True(t, r.Claimed(f))
	r.Opts = options.Defaults()
	r.Opts.Cluster.KindConfig = "mine.yaml"
	assert.False(t, r.Claimed(f), "a kind cluster of another configuration")

	assert.ErrorContains(t, Feature{Name: "x", Kind: KindMatrix, ClaimedOnOwnCluster: true, Matrices: Fixed()}.Validate(),
		"x/declaration: claimed on its own cluster, but a core feature is always claimed")
}
