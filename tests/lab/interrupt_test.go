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
