package lab

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/suites/kservemesh"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/disruption"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// The fail-closed loop on real pods. The stand-in behind sklearn-iris is
// put in "deny" (its model paths answer 403, as the policy would); its
// /get answers whatever the mode. A disruption that opens it is a mesh
// failing open, and the loop must catch the 2xx with its round and phase;
// one that leaves it closed passes. Then the stand-in's real Deployment is
// scaled to zero and back: while it is gone the deny cell is refused (no
// endpoints) and the allowed cell is down; the new pod starts without the
// "policy" (allow mode), as a workload restarted without its policy would,
// and the loop catches that 2xx after the restoration, while the allowed
// cell's downtime and recovery are measured.
func TestFailClosedOnStandIns(t *testing.T) {
	ctx := context.Background()
	control := func(path string) func(context.Context) error {
		return func(ctx context.Context) error {
			pod, err := resolve(ctx, kservemesh.ClientUser1)
			if err != nil {
				return err
			}
			outs, err := probe.Run(ctx, exec_, pod, []probe.Request{{URL: "http://" + kservemesh.PredictorHost(kservemesh.SklearnIris) + "/control/" + path}}, 5*time.Second)
			if err == nil && outs[0].HTTPCode != 200 {
				err = fmt.Errorf("stand-in control %s: %s", path, outs[0])
			}
			return err
		}
	}
	require.NoError(t, control("deny?after=0s")(ctx))
	t.Cleanup(func() { _ = control("allow?after=0s")(context.Background()) })

	denied := matrix.Cell{Name: "default-to-sklearn-iris-status", Client: kservemesh.ClientDefault,
		Request: kservemesh.ModelRequest(kservemesh.SklearnIris), Expect: dataplane.DeniedByPolicy(dataplane.Sidecar)}
	allowed := matrix.Cell{Name: "user1-to-standin-get", Client: kservemesh.ClientUser1,
		Request: probe.Request{URL: "http://" + kservemesh.PredictorHost(kservemesh.SklearnIris) + "/get"}, Expect: matrix.Expect(matrix.Allowed)}
	m := matrix.Matrix{Name: "lab-fail-closed", Cells: []matrix.Cell{denied, allowed}}
	s := disruption.Settings{Settings: labSettings(), HoldRounds: 3, TakeLimit: 2 * time.Minute, RestoreLimit: 2 * time.Minute}
	s.RequiredConsecutiveSuccesses = 2

	open := disruption.Disruption{Name: "policy-off", What: "the stand-in's model paths opened",
		Take: control("allow?after=0s"), Restore: control("deny?after=0s")}
	res := disruption.Run(ctx, open, m, exec_, resolve, s)
	t.Log("\n" + res.Summary())
	require.True(t, res.FailedOpen(), "a 2xx on the deny cell while taken away fails the feature")
	assert.False(t, res.Passed())
	assert.Equal(t, denied.Name, res.Breaches[0].Cell)
	assert.Contains(t, []string{disruption.Taking, disruption.Taken}, res.Breaches[0].Phase)
	assert.Equal(t, 200, res.Breaches[0].Outcome.HTTPCode, "curl's evidence")
	assert.True(t, res.Restored)

	closed := disruption.Disruption{Name: "nothing-opened", What: "the stand-in left denying",
		Take: control("deny?after=0s"), Restore: control("deny?after=0s")}
	res = disruption.Run(ctx, closed, m, exec_, resolve, s)
	t.Log("\n" + res.Summary())
	require.True(t, res.Passed(), "closed throughout, the allowed cell never down")

	scaled := disruption.ScaleToZero(kube, "standin", "user1", "standin", 2*time.Minute)
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
