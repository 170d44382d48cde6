//go:build lab

package lab

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secure-inference/mesh-conformance/suites/kservemesh"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
)

// standinPolicy returns the API write that sets the sklearn-iris stand-in's
// policy: the standin-policy ConfigMap in user1, which the stand-in
// watches and applies `after` once a change reaches it (lab/cmd/standin).
func standinPolicy(deny bool, after time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "standin-policy", Namespace: "user1"},
			Data: map[string]string{"deny": strconv.FormatBool(deny), "after": after.String()}}
		cms := kube.CoreV1().ConfigMaps("user1")
		_, err := cms.Update(ctx, cm, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
		}
		return err
	}
}

// removeStandinPolicy deletes the ConfigMap (the stand-in allows at once)
// and waits, bounded, until the model path answers 200 again, so that the
// next test meets the stand-in as it found it.
func removeStandinPolicy(t *testing.T) {
	ctx := context.Background()
	err := kube.CoreV1().ConfigMaps("user1").Delete(ctx, "standin-policy", metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("removing the stand-in's policy: %v", err)
		return
	}
	m := matrix.Matrix{Name: "lab-policy-removed", Cells: []matrix.Cell{{Name: "user1-to-sklearn-iris-status", Client: kservemesh.ClientUser1,
		Request: kservemesh.ModelRequest(kservemesh.SklearnIris), Expect: matrix.Expect(matrix.Allowed)}}}
	if res := matrix.Run(ctx, m, exec_, resolve, labSettings()); !res.Passed() {
		t.Errorf("the stand-in still denies after its policy was removed:\n%s", res.Table())
	}
}

// Time to revoke and to open, measured as the controls measure them (from
// the API write to the first round of the settled streak), on a stand-in
// whose policy is a ConfigMap it watches and applies after a known delay:
// the measurement must land on that delay, within the round interval and
// the watch's latency.
func TestTimeToRevokeAndOpenOnAKnownDelay(t *testing.T) {
	ctx := context.Background()
	t.Cleanup(func() { removeStandinPolicy(t) })
	cell := func(e matrix.Expectation) matrix.Matrix {
		return matrix.Matrix{Name: "lab-timing", Cells: []matrix.Cell{{Name: "user1-to-sklearn-iris-status", Client: kservemesh.ClientUser1,
			Request: kservemesh.ModelRequest(kservemesh.SklearnIris), Expect: e}}}
	}
	s := labSettings()
	s.RoundInterval, s.MaxTimeToConsistency = 250*time.Millisecond, 30*time.Second

	res, revoke, err := matrix.Converge(ctx, standinPolicy(true, 2*time.Second), cell(matrix.DeniedByPolicy(dataplane.Sidecar)), exec_, resolve, s)
	require.NoError(t, err)
	require.True(t, res.Passed(), res.Table())
	res, open, err := matrix.Converge(ctx, standinPolicy(false, time.Second), cell(matrix.Expect(matrix.Allowed)), exec_, resolve, s)
	require.NoError(t, err)
	require.True(t, res.Passed(), res.Table())
	t.Logf("time to revoke %s (known delay 2s), time to open %s (known delay 1s), resolution %s", revoke, open, s.RoundInterval)
	// Not before the change took effect (a round that began just before it
	// may reach the stand-in just after: one interval of slack), and within
	// one round after it (the interval plus a round's own exec time and the
	// watch's delivery).
	assert.GreaterOrEqual(t, revoke, 2*time.Second-s.RoundInterval)
	assert.Less(t, revoke, 2*time.Second+s.RoundInterval+time.Second)
	assert.GreaterOrEqual(t, open, time.Second-s.RoundInterval)
	assert.Less(t, open, time.Second+s.RoundInterval+time.Second)
}
