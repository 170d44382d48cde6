//go:build lab

package lab

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/secure-inference/mesh-conformance/tests/cluster"
	"github.com/secure-inference/mesh-conformance/tests/report"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// A real suite binary, end to end through the harness on its own lab
// cluster: options, kind provider, image loading, setup steps, features,
// report, teardown. The baseline suite is the one that needs no mesh.

func suiteBinary(t *testing.T) string { return testBinary(t, "./suites/baseline") }

// testBinary builds the test binary of pkg (a path from the repository's
// root) into the test's temporary directory, with the e2e tag that a
// suite's run is built with.
func testBinary(t *testing.T, pkg string) string {
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg)+".test")
	cmd := exec.Command("go", "test", "-tags", "e2e", "-c", "-o", bin, pkg)
	cmd.Dir = repoRoot()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

func suiteArgs(cluster, outDir string) []string {
	args := []string{"-test.v", "--cluster-name=" + cluster, "--node-image=" + os.Getenv("MC_LAB_NODE_IMAGE"),
		"--kind-config=" + filepath.Join(repoRoot(), "kind-config", "lab.yaml"), "--output-dir=" + outDir,
		"--max-time-to-consistency=30s"}
	for _, a := range strings.Split(os.Getenv("MC_LAB_IMAGES"), ",") {
		args = append(args, "--image-archive="+a)
	}
	return args
}

func containersOf(t *testing.T, cluster string) string {
	out, err := exec.Command("docker", "ps", "-a", "-q", "--filter", "label=io.x-k8s.kind.cluster="+cluster).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

func readReport(t *testing.T, dir string) reportapi.Report {
	return readSuiteReport(t, dir, "baseline")
}

func readSuiteReport(t *testing.T, dir, suite string) reportapi.Report {
	data, err := os.ReadFile(filepath.Join(dir, suite, report.FileName))
	require.NoError(t, err, "the report is written whatever happens")
	var rep reportapi.Report
	require.NoError(t, yaml.Unmarshal(data, &rep))
	return rep
}

func TestBaselineSuiteRunsEndToEnd(t *testing.T) {
	bin, out := suiteBinary(t), t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, suiteArgs("mc-lab-suite", out)...)
	cmd.Dir = filepath.Join(repoRoot(), "suites", "baseline")
	logs, err := cmd.CombinedOutput()
	t.Log(tail(string(logs), 40))
	require.NoError(t, err)
	rep := readReport(t, out)
	require.Len(t, rep.Suites, 1)
	assert.Equal(t, reportapi.Success, rep.Suites[0].Result)
	assert.Equal(t, []reportapi.Feature{{Name: "baseline", Support: reportapi.Core, Result: reportapi.Success}}, rep.Suites[0].Features)
	assert.Equal(t, reportapi.Statistics{Passed: 1}, rep.Suites[0].Core.Statistics)
	assert.Equal(t, "kind-mc-lab-suite", rep.Environment.Cluster)
	assert.Equal(t, "v1.34.4", rep.Environment.KubernetesVersion)
	assert.Empty(t, containersOf(t, "mc-lab-suite"), "the cluster the run created is deleted")

	// Provenance of a real run: the source it ran, what it applied, what
	// the cluster ran (image digests from pod status).
	p := rep.Provenance
	require.NotNil(t, p)
	assert.Len(t, p.Suite.Commit, 40, "the lab runs in a git checkout")
	assert.Len(t, p.Fixtures["baseline/workloads.yaml"], 64)
	require.NotNil(t, p.Cluster)
	assert.NotEmpty(t, p.Cluster.KubeSystemUID)
	require.NotEmpty(t, p.Cluster.Nodes)
	assert.Equal(t, "v1.34.4", p.Cluster.Nodes[0].Kubelet)
	var baselineImages []string
	for _, im := range p.Cluster.Images {
		if im.Namespace == "mc-baseline" {
			baselineImages = append(baselineImages, im.Image+" "+im.ImageID)
			assert.Contains(t, im.ImageID, "sha256:", "the runtime's digest")
		}
	}
	assert.NotEmpty(t, baselineImages, "the baseline pods' images")
	assert.NotEmpty(t, p.Reproduce)
}

// A setup step that fails (here: workloads that cannot be ready within a
// millisecond) fails the run, leaves a diagnostics bundle of the suite's
// namespaces, and still deletes the cluster.
func TestFailedSetupStepLeavesDiagnostics(t *testing.T) {
	bin, out := suiteBinary(t), t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(suiteArgs("mc-lab-setupfail", out), "--ready-timeout=1ms")...)
	cmd.Dir = filepath.Join(repoRoot(), "suites", "baseline")
	logs, err := cmd.CombinedOutput()
	t.Log(tail(string(logs), 20))
	require.Error(t, err, "a failed setup step fails the run")
	rep := readReport(t, out)
	assert.Equal(t, reportapi.Failure, rep.Suites[0].Result)
	bundle := filepath.Join(out, "baseline", "diagnostics", "setup", "baseline-workloads")
	summary, err := os.ReadFile(filepath.Join(bundle, "summary.txt"))
	require.NoError(t, err, "the failed step has a bundle")
	assert.Contains(t, string(summary), "setup/baseline-workloads: ")
	// The step failed at once, perhaps before any pod existed: the
	// deployments and their status are there whatever the timing.
	deployments, err := os.ReadFile(filepath.Join(bundle, "mc-baseline", "deployments.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(deployments), "name: httpbin", "the bundle holds the suite's deployments")
	assert.FileExists(t, filepath.Join(bundle, "mc-baseline", "pods.yaml"))
	assert.FileExists(t, filepath.Join(bundle, "mc-baseline", "events.yaml"))
	assert.Empty(t, containersOf(t, "mc-lab-setupfail"), "the cluster the run created is deleted")
}

// suiteRun is the baseline suite binary running on its own lab cluster,
// its output collected as it comes.
type suiteRun struct {
	cmd     *exec.Cmd
	out     string
	reached chan struct{}
	mu      sync.Mutex
	lines   []string
}

// startSuite starts the suite; reached closes at the first line holding
// marker.
func startSuite(t *testing.T, clusterName, marker string, extra ...string) *suiteRun {
	out := t.TempDir()
	return startBinary(t, suiteBinary(t), filepath.Join(repoRoot(), "suites", "baseline"), out,
		append(suiteArgs(clusterName, out), extra...), marker)
}

// startBinary starts a suite binary in dir with args (its --output-dir
// out); reached closes at the first line holding marker.
func startBinary(t *testing.T, bin, dir, out string, args []string, marker string, env ...string) *suiteRun {
	s := &suiteRun{out: out, reached: make(chan struct{})}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Dir = dir
	if len(env) > 0 {
		// Given to the process, not set in the test's own: a parallel
		// test may not change the environment (t.Setenv).
		s.cmd.Env = append(os.Environ(), env...)
	}
	stderr, err := s.cmd.StderrPipe()
	require.NoError(t, err)
	s.cmd.Stdout = s.cmd.Stderr
	require.NoError(t, s.cmd.Start())
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			s.mu.Lock()
			s.lines = append(s.lines, sc.Text())
			s.mu.Unlock()
			if strings.Contains(sc.Text(), marker) {
				once.Do(func() { close(s.reached) })
			}
		}
	}()
	return s
}

func (s *suiteRun) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return tail(strings.Join(s.lines, "\n"), 30)
}

// logged says whether any line so far holds substr.
func (s *suiteRun) logged(substr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if strings.Contains(l, substr) {
			return true
		}
	}
	return false
}

// waitMarker waits (bounded) until the marker was logged.
func (s *suiteRun) waitMarker(t *testing.T, marker string) {
	select {
	case <-s.reached:
	case <-time.After(5 * time.Minute):
		_ = s.cmd.Process.Kill()
		t.Fatalf("the run never logged %q:\n%s", marker, s.logs())
	}
}

// wait waits (bounded) for the run to end and returns how it ended.
func (s *suiteRun) wait(t *testing.T, limit time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		t.Log(s.logs())
		return err
	case <-time.After(limit):
		_ = s.cmd.Process.Kill()
		t.Fatalf("the run did not end within %s:\n%s", limit, s.logs())
		return nil
	}
}

// interrupt starts the baseline suite binary on its own cluster, sends sig
// once a log line contains marker (and delay has passed), and checks what
// the suite promises: exit 128+signal, the report written, the cluster it
// created deleted.
func interrupt(t *testing.T, clusterName, marker string, delay time.Duration, sig syscall.Signal, extra ...string) {
	s := startSuite(t, clusterName, marker, extra...)
	s.waitMarker(t, marker)
	time.Sleep(delay)
	require.NoError(t, s.cmd.Process.Signal(sig))
	err := s.wait(t, 3*time.Minute)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 128+int(sig), exit.ExitCode())
	readReport(t, s.out)
	assert.Empty(t, containersOf(t, clusterName), "an interrupted run deletes the cluster it created")
}

// SIGINT while a setup step runs.
func TestInterruptTearsDownAndWritesTheReport(t *testing.T) {
	interrupt(t, "mc-lab-sigint", "step baseline-workloads ...", 0, syscall.SIGINT)
}

// SIGTERM while kind is still creating the cluster: the nodes kind had
// started, and any a docker run under way adds after the deletion, go too.
func TestTerminateDuringClusterCreation(t *testing.T) {
	interrupt(t, "mc-lab-sigterm", "kind: creating cluster", 4*time.Second, syscall.SIGTERM)
}

// SIGTERM while the diagnostics bundle of a failed setup step is written.
func TestTerminateWhileWritingDiagnostics(t *testing.T) {
	interrupt(t, "mc-lab-sigterm-diag", "diagnostics of setup/baseline-workloads: writing", 0, syscall.SIGTERM, "--ready-timeout=1ms")
}

// The node restarted under a run (docker restart, as a reboot or an engine
// restart does): the run recovers within its limits or stops with an error,
// and either way writes its report and deletes the cluster it created.
func TestNodeRestartedMidRun(t *testing.T) {
	const name, marker = "mc-lab-restart", "step baseline-workloads ..."
	s := startSuite(t, name, marker, "--ready-timeout=90s")
	s.waitMarker(t, marker)
	restart, err := exec.Command("docker", "restart", "--time", "5", name+"-control-plane").CombinedOutput()
	require.NoError(t, err, string(restart))
	err = s.wait(t, 8*time.Minute)
	rep := readReport(t, s.out)
	if err != nil {
		assert.Equal(t, reportapi.Failure, rep.Suites[0].Result, "a run that could not recover says so")
	} else {
		t.Log("the run recovered from the node restart")
		assert.Equal(t, reportapi.Success, rep.Suites[0].Result)
	}
	assert.Empty(t, containersOf(t, name), "the cluster the run created is deleted either way")
}

// SIGTERM during a matrix round (the baseline feature's matrix).
func TestTerminateDuringAMatrix(t *testing.T) {
	interrupt(t, "mc-lab-sigterm-matrix", "=== RUN   TestBaseline", time.Second, syscall.SIGTERM)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// A cluster whose node is stopped (an engine restart, an interrupted run) is
// not reused: the provider says so, deletes it and creates it afresh.
func TestKindProviderReplacesAStaleCluster(t *testing.T) {
	ctx := context.Background()
	k := cluster.NewKind("mc-lab-stale", os.Getenv("MC_LAB_NODE_IMAGE"), 5*time.Minute, logf)
	cfg := filepath.Join(repoRoot(), "kind-config", "lab.yaml")
	_, err := k.CreateWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = k.Destroy(ctx) })
	require.NoError(t, exec.Command("docker", "stop", "mc-lab-stale-control-plane").Run())

	again := cluster.NewKind("mc-lab-stale", os.Getenv("MC_LAB_NODE_IMAGE"), 5*time.Minute, logf)
	_, err = again.CreateWithConfig(ctx, cfg)
	require.NoError(t, err)
	assert.True(t, again.Created, "recreated, not reused")
	require.NoError(t, again.WaitForControlPlane(ctx))
}
