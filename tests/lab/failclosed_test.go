//go:build lab

package lab

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secure-inference/mesh-conformance/suites/kservemesh"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/disruption"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// The fail-closed loop on real pods. The stand-in behind sklearn-iris is
// put in "deny" through its policy ConfigMap (its model paths answer 403,
// as the policy would); its /get answers whatever the policy. A
// disruption that opens it is a mesh failing open, and the loop must catch
// the 2xx with its round and phase; one that leaves it closed passes. Then
// the stand-in's real Deployment is scaled to zero and back: while it is
// gone the deny cell is refused (no endpoints) and the allowed cell is
// down; it comes back without its policy (the restore deletes the
// ConfigMap), as a workload restored without its policy would, and the
// loop catches that 2xx after the restoration, while the allowed cell's
// downtime and recovery are measured.
func TestFailClosedOnStandIns(t *testing.T) {
	ctx := context.Background()
	t.Cleanup(func() { removeStandinPolicy(t) })

	denied := matrix.Cell{Name: "default-to-sklearn-iris-status", Client: kservemesh.ClientDefault,
		Request: kservemesh.ModelRequest(kservemesh.SklearnIris), Expect: matrix.DeniedByPolicy(dataplane.Sidecar)}
	allowed := matrix.Cell{Name: "user1-to-standin-get", Client: kservemesh.ClientUser1,
		Request: probe.Request{URL: "http://" + kservemesh.PredictorHost(kservemesh.SklearnIris) + "/get"}, Expect: matrix.Expect(matrix.Allowed)}
	m := matrix.Matrix{Name: "lab-fail-closed", Cells: []matrix.Cell{denied, allowed}}
	s := disruption.Settings{Settings: labSettings(), HoldRounds: 3, TakeLimit: 2 * time.Minute, RestoreLimit: 2 * time.Minute}
	s.RequiredConsecutiveSuccesses = 2
	// Denying before the first round: the watch delivers in milliseconds.
	closedNow, _, err := matrix.Converge(ctx, standinPolicy(true, 0), matrix.Matrix{Name: "lab-policy-on", Cells: []matrix.Cell{denied}},
		exec_, resolve, labSettings())
	require.NoError(t, err)
	require.True(t, closedNow.Passed(), closedNow.Table())

	open := disruption.Disruption{Name: "policy-off", What: "the stand-in's model paths opened",
		Take: standinPolicy(false, 0), Restore: standinPolicy(true, 0)}
	res := disruption.Run(ctx, open, m, exec_, resolve, s)
	t.Log("\n" + res.Summary())
	require.True(t, res.FailedOpen(), "a 2xx on the deny cell while taken away fails the feature")
	assert.False(t, res.Passed())
	assert.Equal(t, denied.Name, res.Breaches[0].Cell)
	assert.Contains(t, []string{disruption.Taking, disruption.Taken}, res.Breaches[0].Phase)
	assert.Equal(t, 200, res.Breaches[0].Outcome.HTTPCode, "curl's evidence")
	assert.True(t, res.Restored)

	closed := disruption.Disruption{Name: "nothing-opened", What: "the stand-in left denying",
		Take: standinPolicy(true, 0), Restore: standinPolicy(true, 0)}
	res = disruption.Run(ctx, closed, m, exec_, resolve, s)
	t.Log("\n" + res.Summary())
	require.True(t, res.Passed(), "closed throughout, the allowed cell never down")

	// Restored without its policy: the ConfigMap goes with the workload.
	scaled := disruption.ScaleToZero(kube, "standin", "user1", "standin", 2*time.Minute)
	restore := scaled.Restore
	scaled.Restore = func(ctx context.Context) error {
		if err := kube.CoreV1().ConfigMaps("user1").Delete(ctx, "standin-policy", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		return restore(ctx)
	}
	res = disruption.Run(ctx, scaled, m, exec_, resolve, s)
	t.Log("\n" + res.Summary())
	require.True(t, res.Restored, "the Deployment is back: %v", res.RestoreErr)
	require.NoError(t, res.TakeErr)
	require.True(t, res.FailedOpen(), "the restarted stand-in answers 200 without its policy")
	assert.Contains(t, []string{disruption.Restoring, disruption.After}, res.Breaches[0].Phase, "not while it was gone: no endpoints refuse")
	for _, b := range res.Breaches {
		assert.NotEqual(t, disruption.Taken, b.Phase, "while gone nothing answered: %s", b)
	}
	var get disruption.CellResult
	for _, c := range res.Cells {
		if c.Name == allowed.Name {
			get = c
		}
	}
	assert.True(t, get.Down, "the allowed cell was down while the Deployment was at zero")
	assert.True(t, get.Recovered, "and recovered after restoration: %s", get.Reason)
	assert.Positive(t, get.Downtime)
	t.Logf("allowed cell down for %s, recovered %s after restoration", get.Downtime, get.RecoveredAfter)
}
