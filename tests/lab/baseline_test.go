//go:build lab

package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/secure-inference/mesh-conformance/suites/baseline"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

// The baseline's classification on a real network: refused, DNS failure
// and timeout look on kube-proxy's network as they do on loopback.
func TestBaselinePassesOnAHealthyNetwork(t *testing.T) {
	res := matrix.Run(context.Background(), baseline.Matrix(), exec_, resolve, labSettings())
	recorder.Matrix("baseline", harness.ReportMatrix(res))
	t.Log("\n" + res.Table())
	assert.True(t, res.Passed())
}

// With the server scaled away, the baseline fails on Service routing, with
// kube-proxy's refusal as evidence.
func TestBaselineFailsWhenRoutingBreaks(t *testing.T) {
	ctx := context.Background()
	scale := func(n int) {
		_, err := kube.AppsV1().Deployments("mc-baseline").Patch(ctx, "httpbin", types.MergePatchType,
			[]byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, n)), metav1.PatchOptions{})
		require.NoError(t, err)
	}
	scale(0)
	t.Cleanup(func() {
		scale(1)
		require.NoError(t, ready.Deployments(ctx, kube, "mc-baseline", "app=httpbin", 2*time.Minute))
	})
	require.Eventually(t, func() bool {
		eps, err := kube.CoreV1().Endpoints("mc-baseline").Get(ctx, "baseline-httpbin", metav1.GetOptions{})
		return err == nil && (len(eps.Subsets) == 0 || len(eps.Subsets[0].Addresses) == 0)
	}, time.Minute, time.Second)
	// kube-proxy programs the Service's reject rule some time after its
	// endpoints empty; until then a connection goes to the old pod's
	// address and times out (seen once under load). Wait, bounded, for the
	// refusal itself, then judge the matrix.
	pod, err := resolve(ctx, baseline.Client)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		outs, err := probe.Run(ctx, exec_, pod, []probe.Request{{URL: "http://baseline-httpbin.mc-baseline.svc.cluster.local/get"}}, 3*time.Second)
		return err == nil && outs[0].Kind == probe.KindRefused
	}, time.Minute, time.Second, "kube-proxy never refused connections to the Service without endpoints")
	s := labSettings()
	s.MaxTimeToConsistency = 5 * time.Second
	res := matrix.Run(ctx, baseline.Matrix(), exec_, resolve, s)
	t.Log("\n" + res.Table())
	require.False(t, res.Passed())
	// The verdict this test is about: the routing cell fails, refused. The
	// slow-answer cell (2 s limit) may fail too, by flapping between a
	// refusal and a connect timeout: under load the reject arrives only for
	// the SYN's retransmission, about 1 s later (seen in a soak run, "after
	// 1027 ms"); what it last saw says nothing about routing.
	var routing *matrix.CellResult
	for i, c := range res.Failed() {
		if c.Name == "dns-service-routing-exec-curl" {
			routing = &res.Failed()[i]
		}
	}
	require.NotNil(t, routing, "the routing cell must fail when the Service has no endpoints")
	assert.Equal(t, probe.KindRefused, routing.Last.Kind, "classified as a refusal, not a DNS failure or a timeout")
}

// The kind provider exports the nodes' logs.
func TestKindExportsLogs(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, kind.ExportLogs(context.Background(), dir))
	matches, _ := filepath.Glob(filepath.Join(dir, "*", "kubelet.log"))
	require.NotEmpty(t, matches, "kubelet log of each node")
	info, err := os.Stat(matches[0])
	require.NoError(t, err)
	assert.Positive(t, info.Size())
}
