//go:build lab

package lab

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/secure-inference/mesh-conformance/suites/kservemesh"
	"github.com/secure-inference/mesh-conformance/tests/coldstart"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/disruption"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

// sksStandIn plays Knative's ServerlessService reconciler for the restart
// stand-ins: with no ready target pod the public Service selects the
// activator stand-in (Proxy) at once; once a pod has been ready for lag it
// selects the target again (Serve). Frozen, it never goes back to Serve.
type sksStandIn struct {
	lag  time.Duration
	mu   sync.Mutex
	mode string
	// frozen keeps it in Proxy once there.
	frozen bool
	stop   chan struct{}
	done   chan struct{}
}

func startSKSStandIn(t *testing.T, lag time.Duration) *sksStandIn {
	s := &sksStandIn{lag: lag, mode: coldstart.ModeServe, stop: make(chan struct{}), done: make(chan struct{})}
	go s.run(t)
	t.Cleanup(s.close)
	return s
}

func (s *sksStandIn) close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

func (s *sksStandIn) freeze(v bool) { s.mu.Lock(); s.frozen = v; s.mu.Unlock() }

func (s *sksStandIn) run(t *testing.T) {
	defer close(s.done)
	ctx := context.Background()
	var readySince time.Time
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < 4*60*10; i++ { // ten minutes at most
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		pods, err := kube.CoreV1().Pods("user1").List(ctx, metav1.ListOptions{LabelSelector: "app=standin-restart"})
		if err != nil {
			continue
		}
		n := 0
		for i := range pods.Items {
			if pods.Items[i].DeletionTimestamp == nil && ready.PodReady(&pods.Items[i]) {
				n++
			}
		}
		s.mu.Lock()
		want, frozen := s.mode, s.frozen
		s.mu.Unlock()
		switch {
		case n == 0:
			want, readySince = coldstart.ModeProxy, time.Time{}
		case readySince.IsZero():
			readySince = time.Now()
		case time.Since(readySince) >= s.lag && !frozen:
			want = coldstart.ModeServe
		}
		if want == s.mode {
			continue
		}
		app := map[string]string{coldstart.ModeProxy: "standin-activator", coldstart.ModeServe: "standin-restart"}[want]
		if _, err := kube.CoreV1().Services("user1").Patch(ctx, "standin-restart", types.MergePatchType,
			[]byte(fmt.Sprintf(`{"spec":{"selector":{"app":%q}}}`, app)), metav1.PatchOptions{}); err != nil {
			t.Logf("lab SKS: %v", err)
			continue
		}
		if _, err := kube.CoreV1().ConfigMaps("user1").Patch(ctx, "standin-restart-sks", types.MergePatchType,
			[]byte(fmt.Sprintf(`{"data":{"mode":%q}}`, want)), metav1.PatchOptions{}); err != nil {
			t.Logf("lab SKS: %v", err)
		}
		s.mu.Lock()
		s.mode = want
		s.mu.Unlock()
		logf("lab SKS: %s (%d ready target pod(s))", want, n)
	}
}

func (s *sksStandIn) current() string { s.mu.Lock(); defer s.mu.Unlock(); return s.mode }

func standinRestartMode(ctx context.Context) (string, error) {
	cm, err := kube.CoreV1().ConfigMaps("user1").Get(ctx, "standin-restart-sks", metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return cm.Data["mode"], nil
}

// The restart measurement on real pods: the target's pod is deleted while
// user2's refused cell is probed every round; with no ready pod the public
// Service leads to the activator stand-in, which holds the requests and
// forwards them under the identity the policy admits, so the refused cell
// is served (200) until the lab's ServerlessService puts the target back
// (4 s after its new pod is ready). The run records each 2xx with its
// round and the mode, the window with its length, and judges the refusal
// once restored: it passes. With the ServerlessService frozen in Proxy the
// refusal never comes back, and the verdict fails.
func TestRestartIsolationOnAStandInServedThroughAProxy(t *testing.T) {
	ctx := context.Background()
	sks := startSKSStandIn(t, 4*time.Second)
	url := "http://standin-restart.user1.svc.cluster.local"
	refused := matrix.Cell{Name: "user2-to-standin-restart-status", Client: kservemesh.ClientUser2,
		Request: probe.Request{URL: url + "/v1/models/" + kservemesh.SklearnIris}, Expect: matrix.DeniedByPolicy(dataplane.Sidecar)}
	allowed := matrix.Cell{Name: "user1-to-standin-restart-get", Client: kservemesh.ClientUser1,
		Request: probe.Request{URL: url + "/get"}, Expect: matrix.Expect(matrix.Allowed)}
	m := matrix.Matrix{Name: "lab-restart-isolation", Cells: []matrix.Cell{refused, allowed}}
	before, _, err := matrix.Converge(ctx, func(context.Context) error { return nil }, matrix.Matrix{Name: "lab-restart-refused", Cells: []matrix.Cell{refused}},
		exec_, resolve, labSettings())
	require.NoError(t, err)
	require.True(t, before.Passed(), "the target refuses user2 before anything restarts:\n%s", before.Table())

	s := disruption.Settings{Settings: labSettings(), HoldRounds: 2, TakeLimit: 2 * time.Minute, RestoreLimit: 2 * time.Minute,
		Path: standinRestartMode, ServedIsFinding: true}
	restart := disruption.RestartPods(kube, "pod-restart", "user1", "app=standin-restart", 2*time.Minute)
	res := disruption.Run(ctx, restart, m, exec_, resolve, s)
	t.Log("\n" + res.Summary())
	logRounds(t, res)
	require.NoError(t, res.Err)
	require.NoError(t, res.TakeErr)
	require.True(t, res.Restored, "%v", res.RestoreErr)
	assert.False(t, res.FailedOpen(), "served through the proxy: a finding, not the mesh failing open")
	require.NotEmpty(t, res.Breaches, "the proxy served the refused caller while the pod was gone")
	proxied := 0
	for _, b := range res.Breaches {
		assert.Equal(t, refused.Name, b.Cell)
		assert.Equal(t, 200, b.Outcome.HTTPCode, "curl's evidence")
		assert.Contains(t, b.Outcome.Body, `"ready":true`)
		if b.Path == coldstart.ModeProxy {
			proxied++
		}
	}
	assert.Positive(t, proxied, "the 2xx came while the lab's ServerlessService was in Proxy")
	windows := disruption.Windows(res)
	require.NotEmpty(t, windows)
	for _, w := range windows {
		t.Logf("%s", w)
	}
	assert.True(t, windows[len(windows)-1].Closed, "refused again before the run ended")
	assert.Positive(t, windows[0].Length())
	assert.True(t, res.Passed(), "refused again once the target was back:\n%s", res.Summary())

	// Frozen in Proxy: the refused cell stays served after restoration.
	sks.freeze(true)
	res = disruption.Run(ctx, restart, m, exec_, resolve, s)
	t.Log("\n" + res.Summary())
	sks.freeze(false)
	require.NoError(t, res.Err)
	require.True(t, res.Restored, "%v", res.RestoreErr)
	assert.False(t, res.Passed())
	for _, c := range res.Cells {
		if c.Name == refused.Name {
			assert.Contains(t, c.Reason, "isolation did not come back")
		}
	}
	require.Eventually(t, func() bool { return sks.current() == coldstart.ModeServe }, time.Minute, 250*time.Millisecond, "back to Serve")
}

// logRounds shows what every round got, and what the activator stand-in
// forwarded: the account behind the windows.
func logRounds(t *testing.T, res disruption.Result) {
	for _, c := range res.Cells {
		for _, o := range c.Observations {
			t.Logf("%s round %d (%s, %s): %s %s [path %s]", c.Name, o.Round, o.Phase, o.At.Round(time.Millisecond), o.Outcome, o.EnvError, o.Path)
		}
	}
	pods, err := kube.CoreV1().Pods("user1").List(context.Background(), metav1.ListOptions{LabelSelector: "app=standin-activator"})
	if err != nil || len(pods.Items) == 0 {
		return
	}
	tail := int64(20)
	out, err := kube.CoreV1().Pods("user1").GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{TailLines: &tail}).Do(context.Background()).Raw()
	t.Logf("activator stand-in's log (%v):\n%s", err, out)
}
