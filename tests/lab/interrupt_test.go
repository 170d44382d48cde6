//go:build lab

package lab

import (
	"context"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secure-inference/mesh-conformance/suites/baseline"
	"github.com/secure-inference/mesh-conformance/tests/ready"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// Ctrl-C while a disruption holds a workload away. A real suite binary
// (testdata/failclosedsuite: a fail-closed feature that scales the
// baseline's httpbin to zero and back) runs on the lab cluster as on a
// user's own (--kubeconfig); once httpbin has no pod left it gets SIGINT.
// The run's restorers must put httpbin back (its replicas, Ready) before
// the process exits 130, and the report must be written; the cluster, not
// the run's, stays.
func TestInterruptMidDisruptionRestores(t *testing.T) {
	const ns, deployment, goneMarker = "mc-baseline", "httpbin", "lab: httpbin is gone"
	ctx := context.Background()
	bin := testBinary(t, "./tests/lab/testdata/failclosedsuite")
	require.Equal(t, baseline.Client.Namespace, ns)
	// Whatever happens below, the next test meets httpbin as it was.
	t.Cleanup(func() {
		if s, err := kube.AppsV1().Deployments(ns).GetScale(ctx, deployment, metav1.GetOptions{}); err == nil && s.Spec.Replicas == 0 {
			s.Spec.Replicas = 1
			_, _ = kube.AppsV1().Deployments(ns).UpdateScale(ctx, deployment, s, metav1.UpdateOptions{})
			_ = ready.Deployments(ctx, kube, ns, "", 2*time.Minute)
		}
	})

	out := t.TempDir()
	s := startBinary(t, bin, filepath.Join(repoRoot(), "tests", "lab", "testdata", "failclosedsuite"), out,
		[]string{"-test.v", "--kubeconfig=" + kubeconfig, "--output-dir=" + out, "--supported-features=fail-closed",
			"--round-interval=1s", "--max-time-to-consistency=30s"}, goneMarker)
	s.waitMarker(t, goneMarker)
	gone, err := kube.AppsV1().Deployments(ns).Get(ctx, deployment, metav1.GetOptions{})
	require.NoError(t, err)
	require.Zero(t, *gone.Spec.Replicas, "the disruption holds httpbin at zero when the signal comes")
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGINT))
	err = s.wait(t, 3*time.Minute)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 130, exit.ExitCode())
	assert.True(t, s.logged("restored what fail-closed/httpbin-to-zero had removed"), "the run's restorers put it back:\n%s", s.logs())

	back, err := kube.AppsV1().Deployments(ns).Get(ctx, deployment, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(1), *back.Spec.Replicas, "the replicas it had")
	require.NoError(t, ready.Deployments(ctx, kube, ns, "", time.Minute), "and Ready")
	rep := readSuiteReport(t, out, "lab-fail-closed")
	require.Len(t, rep.Suites, 1)
	assert.NotEqual(t, reportapi.Success, rep.Suites[0].Result, "an interrupted run is no success")
}

// go test's own deadline while a disruption holds a workload away. The
// same suite binary, its fail-closed feature's limit understated on
// purpose (1s, MC_LAB_FEATURE_LIMIT) so that its budget fits a
// 150 s -test.timeout, holds httpbin at zero for 1000 rounds. The run must
// stop itself before go test's panic (which would exit 2 with nothing put
// back): at the deadline less its margin (15 s), httpbin is restored, the
// report is written, and the process exits 1.
func TestDeadlineMidDisruptionStopsTheRunFirst(t *testing.T) {
	// Mostly waiting for the deadline, on the shared cluster's
	// mc-baseline: beside the tests of clusters of their own.
	t.Parallel()
	const ns, deployment = "mc-baseline", "httpbin"
	ctx := context.Background()
	bin := testBinary(t, "./tests/lab/testdata/failclosedsuite")
	t.Cleanup(func() {
		if s, err := kube.AppsV1().Deployments(ns).GetScale(ctx, deployment, metav1.GetOptions{}); err == nil && s.Spec.Replicas == 0 {
			s.Spec.Replicas = 1
			_, _ = kube.AppsV1().Deployments(ns).UpdateScale(ctx, deployment, s, metav1.UpdateOptions{})
			_ = ready.Deployments(ctx, kube, ns, "", 2*time.Minute)
		}
	})
	out := t.TempDir()
	start := time.Now()
	s := startBinary(t, bin, filepath.Join(repoRoot(), "tests", "lab", "testdata", "failclosedsuite"), out,
		[]string{"-test.v", "-test.timeout=150s", "--kubeconfig=" + kubeconfig, "--output-dir=" + out, "--supported-features=fail-closed",
			"--cluster-lock-timeout=5s", "--ready-timeout=40s", "--round-interval=1s", "--required-consecutive-successes=1000",
			"--max-time-to-consistency=10m"}, "lab: httpbin is gone", "MC_LAB_FEATURE_LIMIT=1s")
	s.waitMarker(t, "lab: httpbin is gone")
	err := s.wait(t, 3*time.Minute)
	took := time.Since(start)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, s.logs())
	assert.Equal(t, 1, exit.ExitCode(), "the suite ended itself (go test's panic exits 2):\n%s", s.logs())
	assert.True(t, s.logged("fires at"), "it says why it stops:\n%s", s.logs())
	assert.False(t, s.logged("panic: test timed out"), "go test's deadline never fired:\n%s", s.logs())
	assert.True(t, s.logged("restored what fail-closed/httpbin-to-zero had removed"), "the run's restorers put httpbin back:\n%s", s.logs())
	assert.Less(t, took, 150*time.Second, "before go test's deadline")
	t.Logf("stopped itself after %s of a 150s -test.timeout", took.Round(time.Second))

	back, err := kube.AppsV1().Deployments(ns).Get(ctx, deployment, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(1), *back.Spec.Replicas, "the replicas it had")
	require.NoError(t, ready.Deployments(ctx, kube, ns, "", time.Minute), "and Ready")
	rep := readSuiteReport(t, out, "lab-fail-closed")
	require.Len(t, rep.Suites, 1)
	assert.NotEqual(t, reportapi.Success, rep.Suites[0].Result, "a run cut by its deadline is no success")
}
