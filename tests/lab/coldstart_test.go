//go:build lab

package lab

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/secure-inference/mesh-conformance/suites/kservemesh"
	"github.com/secure-inference/mesh-conformance/tests/coldstart"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// standinCold is sklearn-iris-cold's lab stand-in as a scale-to-zero
// target: the Deployment's ready pods, and the mode its ConfigMap holds.
type standinCold struct{}

func (standinCold) State(ctx context.Context) (coldstart.State, error) {
	d, err := kube.AppsV1().Deployments("user1").Get(ctx, "standin-cold", metav1.GetOptions{})
	if err != nil {
		return coldstart.State{}, err
	}
	cm, err := kube.CoreV1().ConfigMaps("user1").Get(ctx, "standin-cold-sks", metav1.GetOptions{})
	if err != nil {
		return coldstart.State{}, err
	}
	return coldstart.State{ReadyPods: int(d.Status.ReadyReplicas), Mode: cm.Data["mode"]}, nil
}

// setCold scales the stand-in and sets its mode, as Knative would.
func setCold(t *testing.T, cold bool) {
	ctx := context.Background()
	replicas, mode := 1, coldstart.ModeServe
	if cold {
		replicas, mode = 0, coldstart.ModeProxy
	}
	_, err := kube.AppsV1().Deployments("user1").Patch(ctx, "standin-cold", types.MergePatchType,
		[]byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas)), metav1.PatchOptions{})
	assert.NoError(t, err)
	_, err = kube.CoreV1().ConfigMaps("user1").Patch(ctx, "standin-cold-sks", types.MergePatchType,
		[]byte(fmt.Sprintf(`{"data":{"mode":%q}}`, mode)), metav1.PatchOptions{})
	assert.NoError(t, err)
}

// The cold/warm sequence on real pods: the probe waits until the stand-in
// is scaled to zero with the "activator" mode set, sends its one request
// (no activator here: the Service has no endpoint, so it is refused, and
// that is recorded as it came), waits until it is ready again, and times
// it; the warm matrix then fails exactly where enforcement is missing.
func TestColdStartSequenceOnAStandIn(t *testing.T) {
	ctx := context.Background()
	t.Cleanup(func() { setCold(t, false) })
	pod, err := resolve(ctx, kservemesh.ClientUser2)
	require.NoError(t, err)
	go func() {
		time.Sleep(2 * time.Second)
		setCold(t, true)
		time.Sleep(8 * time.Second)
		setCold(t, false)
	}()
	s := coldstart.Settings{ColdWait: time.Minute, WarmWait: 2 * time.Minute, RequestTimeout: 5 * time.Second, Poll: 500 * time.Millisecond}
	sample, err := coldstart.Probe(ctx, exec_, pod, kservemesh.ModelRequest(kservemesh.SklearnIrisCold), standinCold{}, s)
	require.NoError(t, err)
	t.Logf("cold: %s -> %s; first byte %s, ready after %s", sample.Cold, sample.Outcome, sample.TimeToFirstByte, sample.TimeToReady)
	assert.True(t, sample.Cold.Cold())
	assert.False(t, sample.Served())
	assert.Equal(t, probe.KindRefused, sample.Outcome.Kind, "no endpoint while cold: refused, with curl's evidence")
	assert.Greater(t, sample.TimeToReady, time.Second, "ready only once the stand-in scaled up")

	// The warm verdict as the feature runs it: kept warm by user1's cell,
	// watched, and void when the target goes cold while it runs.
	warm := kservemesh.ColdStartWarm()
	user1, err := resolve(ctx, warm.Cells[0].Client)
	require.NoError(t, err)
	keeps := 0
	keep := func(ctx context.Context) error {
		keeps++
		_, err := probe.Run(ctx, exec_, user1, []probe.Request{warm.Cells[0].Request}, 5*time.Second)
		return err
	}
	var res matrix.Result
	err = coldstart.WhileWarm(ctx, standinCold{}, keep, time.Minute, time.Second, 60, func(ctx context.Context) {
		res = matrix.Run(ctx, warm, exec_, resolve, labSettings())
	})
	require.NoError(t, err, "the stand-in stayed warm")
	assert.Positive(t, keeps, "user1's request kept it warm")
	recorder.Matrix("kservemesh-on-standins", harness.ReportMatrix(res))
	t.Log("\n" + res.Table())
	require.NoError(t, res.Err)
	assert.Equal(t, []string{"default-to-sklearn-iris-cold-warm", "user2-to-sklearn-iris-cold-warm"}, failedNames(res),
		"no policy in the lab: the warm refusals fail, user1 passes")

	// Counterfactual: the stand-in scales to zero while the verdict runs
	// (as sklearn-iris-cold would within its 6 s window): no verdict.
	err = coldstart.WhileWarm(ctx, standinCold{}, func(context.Context) error { return nil }, time.Minute, time.Second, 60, func(ctx context.Context) {
		setCold(t, true)
		time.Sleep(4 * time.Second)
	})
	setCold(t, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "void")
	t.Logf("cold mid-verdict: %v", err)
}
