package harness

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/disruption"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

func TestBudgetCountsEveryLimitOnce(t *testing.T) {
	o := options.Options{Timeouts: options.DefaultTimeouts()}
	steps := []Step{{Name: "istio", Component: "istio"}, {Name: "kserve", Component: "kserve"}, {Name: "auth"}, {Name: "isvc", Limit: 15 * time.Minute}}
	b := setupBudget(o, steps)
	assert.Equal(t, []BudgetPart{
		{What: "kind cluster", Limit: 5 * time.Minute},
		{What: "step isvc", Limit: 15 * time.Minute},
		{What: "2 installs", Limit: 20 * time.Minute},
		{What: "1 setup steps", Limit: 5 * time.Minute},
	}, b.Parts)
	assert.Equal(t, 45*time.Minute, b.Total())

	o.Cluster.Kubeconfig = "/home/u/.kube/config" // the user's cluster: no kind, maybe another run's lease
	assert.Equal(t, BudgetPart{What: "run lease", Limit: 10 * time.Minute}, setupBudget(o, nil).Parts[0])
}

// A matrix runs until its time to consistency, or for as many rounds as
// must match in a row when they take longer: --required-consecutive-
// successes=1000 at 1 s rounds is 1000 s, not the 5 minute limit.
func TestFeatureLimitCountsRoundsThatOutlastTheConsistencyLimit(t *testing.T) {
	o := options.Options{Timeouts: options.DefaultTimeouts()}
	r := &Run{Opts: o}
	m := Feature{Kind: KindMatrix, Matrices: Fixed(matrix.Matrix{}, matrix.Matrix{})}
	assert.Equal(t, 2*Settings(o.Timeouts).Longest(), featureLimit(r, m))
	assert.GreaterOrEqual(t, featureLimit(r, m), 2*o.Timeouts.MaxTimeToConsistency)

	r.Opts.Timeouts.RequiredConsecutiveSuccesses, r.Opts.Timeouts.RoundInterval = 1000, time.Second
	assert.GreaterOrEqual(t, featureLimit(r, m), 2*1000*time.Second)
	fc := FailClosed(Feature{Name: "fail-closed"}, func(*Env) []disruption.Disruption { return make([]disruption.Disruption, 2) },
		func(options.Options) matrix.Matrix { return matrix.Matrix{} })
	assert.GreaterOrEqual(t, featureLimit(r, fc), 2*2*1000*time.Second, "each disruption holds for the successes in a row, then settles")

	given := FailClosed(Feature{Name: "fail-closed", Limit: func(options.Options) time.Duration { return time.Second }},
		func(*Env) []disruption.Disruption { return nil }, func(options.Options) matrix.Matrix { return matrix.Matrix{} })
	assert.Equal(t, time.Second, featureLimit(r, given), "a Limit given is kept")
}

func TestTimeoutSuggestionCoversARealTeardown(t *testing.T) {
	b := Budget{Parts: []BudgetPart{{What: "features", Limit: 2*time.Hour + 55*time.Minute}, {What: teardownPart, Limit: time.Minute}}}
	// 2h55m + a real run's 3m teardown: 2h58m, rounded up to the half hour.
	assert.Equal(t, 3*time.Hour, b.Timeout())
	b.Parts[0].Limit = 2*time.Hour + 58*time.Minute
	assert.Equal(t, 3*time.Hour+30*time.Minute, b.Timeout())
	assert.Equal(t, "up to 2h59m: features 2h58m, teardown 1m", b.String())
}

func TestATimeoutShorterThanTheBudgetStopsTheRun(t *testing.T) {
	b := Budget{Parts: []BudgetPart{{What: "kind cluster", Limit: 5 * time.Minute}, {What: "11 features", Limit: 2 * time.Hour}, {What: teardownPart, Limit: time.Minute}}}
	err := checkTimeout("kservemesh", 10*time.Minute, b)
	require.Error(t, err)
	msg := err.Error()
	assert.NotContains(t, msg, "\n", "one line")
	for _, want := range []string{"go test's -timeout (10m", "up to 2h6m: kind cluster 5m, 11 features 2h, teardown 1m", "nothing was created",
		"go test -tags e2e -v -timeout 2h30m ./suites/kservemesh/", "go test -tags e2e -p 1 -v -timeout 2h30m ./suites/...", "make e2e"} {
		assert.Contains(t, msg, want)
	}
	assert.NoError(t, checkTimeout("kservemesh", 3*time.Hour, b))
	assert.NoError(t, checkTimeout("kservemesh", 0, b), "-timeout 0: no deadline")
	assert.Contains(t, timeoutVerdict("kservemesh", 10*time.Minute, b), "a real run would stop at once")
	assert.Equal(t, "go test's -timeout: 3h: enough for a real run", timeoutVerdict("kservemesh", 3*time.Hour, b))
}

func TestTheTeardownMarginShrinksOnlyForShortTimeouts(t *testing.T) {
	assert.Equal(t, 3*time.Minute, marginFor(0))
	assert.Equal(t, 3*time.Minute, marginFor(4*time.Hour))
	assert.Equal(t, 9*time.Second, marginFor(90*time.Second))
}

// The suite binary as go test starts it: with go test's default -timeout
// it stops at once, in one line naming the fix, before anything is created
// (no kind cluster, no report); with a long enough one it goes on to the
// cluster (here a kubeconfig whose API server is a closed port on
// 127.0.0.1, so it stops there, naming that instead).
func TestASuiteBinaryRefusesGoTestsDefaultTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a suite binary")
	}
	bin := buildSuite(t, "./suites/baseline")

	out1 := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.timeout=10m0s", "--output-dir="+out1)
	cmd.Dir = filepath.Join(fromRepoRoot("."), "suites", "baseline")
	stderr, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "%v: %s", err, stderr)
	assert.Equal(t, 2, exit.ExitCode())
	lines := strings.Split(strings.TrimSpace(string(stderr)), "\n")
	require.Len(t, lines, 1, "one line: %s", stderr)
	assert.Contains(t, lines[0], "baseline: go test's -timeout (10m; its default is 10m) is shorter than this run can take")
	assert.Contains(t, lines[0], "go test -tags e2e -v -timeout 30m ./suites/baseline/")
	entries, _ := os.ReadDir(out1)
	assert.Empty(t, entries, "nothing written: no report, no diagnostics")

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600))
	cmd = exec.CommandContext(ctx, bin, "-test.timeout=1h", "--output-dir="+t.TempDir(), "--kubeconfig="+kubeconfig)
	cmd.Dir = filepath.Join(fromRepoRoot("."), "suites", "baseline")
	stderr, err = cmd.CombinedOutput()
	require.Error(t, err)
	assert.NotContains(t, string(stderr), "-timeout (", "a long enough timeout passes the check")
	assert.Contains(t, string(stderr), "cannot reach the cluster's API server", "and the run goes on to the cluster")
}

// buildSuite builds a suite's test binary, as go test -tags e2e would run
// it, and returns its path.
func buildSuite(t *testing.T, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg)+".test")
	build := exec.Command("go", "test", "-tags", "e2e", "-c", "-o", bin, pkg)
	build.Dir = fromRepoRoot(".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}
