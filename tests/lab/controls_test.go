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
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// Time to revoke and to open, measured as the controls measure them, on a
// stand-in whose "policy" takes effect after a known delay: the
// measurement must land on that delay, within the round interval.
func TestTimeToRevokeAndOpenOnAKnownDelay(t *testing.T) {
	ctx := context.Background()
	pod, err := resolve(ctx, kservemesh.ClientUser1)
	require.NoError(t, err)
	control := func(path string) func(context.Context) error {
		return func(ctx context.Context) error {
			outs, err := probe.Run(ctx, exec_, pod, []probe.Request{{URL: "http://" + kservemesh.PredictorHost(kservemesh.SklearnIris) + "/control/" + path}}, 5*time.Second)
			if err == nil && outs[0].HTTPCode != 200 {
				err = fmt.Errorf("stand-in control %s: %s", path, outs[0])
			}
			return err
		}
	}
	t.Cleanup(func() { _ = control("allow?after=0s")(ctx) })
	cell := func(e matrix.Expectation) matrix.Matrix {
		return matrix.Matrix{Name: "lab-timing", Cells: []matrix.Cell{{Name: "user1-to-sklearn-iris-status", Client: kservemesh.ClientUser1,
			Request: kservemesh.ModelRequest(kservemesh.SklearnIris), Expect: e}}}
	}
	s := labSettings()
	s.RoundInterval, s.MaxTimeToConsistency = 250*time.Millisecond, 30*time.Second

	res, revoke, err := matrix.Converge(ctx, control("deny?after=2s"), cell(dataplane.DeniedByPolicy(dataplane.Sidecar)), exec_, resolve, s)
	require.NoError(t, err)
	require.True(t, res.Passed(), res.Table())
	res, open, err := matrix.Converge(ctx, control("allow?after=1s"), cell(matrix.Expect(matrix.Allowed)), exec_, resolve, s)
	require.NoError(t, err)
	require.True(t, res.Passed(), res.Table())
	t.Logf("time to revoke %s (known delay 2s), time to open %s (known delay 1s), resolution %s", revoke, open, s.RoundInterval)
	// Not before the change took effect (a round that began just before it
	// may reach the stand-in just after: one interval of slack), and within
	// one round after it (the interval plus a round's own exec time).
	assert.GreaterOrEqual(t, revoke, 2*time.Second-s.RoundInterval)
	assert.Less(t, revoke, 2*time.Second+s.RoundInterval+time.Second)
	assert.GreaterOrEqual(t, open, time.Second-s.RoundInterval)
	assert.Less(t, open, time.Second+s.RoundInterval+time.Second)
}
