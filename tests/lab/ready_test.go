//go:build lab

package lab

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/secure-inference/mesh-conformance/tests/ready"
)

func daemonSet(name, image string) *appsv1.DaemonSet {
	labels := map[string]string{"app": name}
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "mc-baseline"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{"ambient.istio.io/redirection": "pending"}},
				Spec: corev1.PodSpec{TerminationGracePeriodSeconds: new(int64), Containers: []corev1.Container{{Name: "c", Image: image, ImagePullPolicy: corev1.PullIfNotPresent}}}}}}
}

// The explicit DaemonSet wait on real DaemonSets: it returns once the one
// node's pod is ready, and names what is missing when it never is (an
// image that cannot be pulled here).
func TestDaemonSetWait(t *testing.T) {
	ctx := context.Background()
	for _, ds := range []*appsv1.DaemonSet{daemonSet("mc-ds-ready", "mesh-conformance.local/standin:lab"), daemonSet("mc-ds-stuck", "mesh-conformance.local/absent:lab")} {
		_, err := kube.AppsV1().DaemonSets(ds.Namespace).Create(ctx, ds, metav1.CreateOptions{})
		require.NoError(t, err)
		name := ds.Name
		t.Cleanup(func() { _ = kube.AppsV1().DaemonSets("mc-baseline").Delete(ctx, name, metav1.DeleteOptions{}) })
	}
	require.NoError(t, ready.DaemonSet(ctx, kube, "mc-baseline", "mc-ds-ready", time.Minute))
	err := ready.DaemonSet(ctx, kube, "mc-baseline", "mc-ds-stuck", 10*time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "0 of 1 pods ready")
}

// The enrollment poll on a pod whose annotation turns from "pending" to
// "enabled" while the wait runs, as istio-cni writes it: one look would
// have failed; the poll passes once it changes, not before.
func TestPodsAnnotatedWaitsForTheChange(t *testing.T) {
	ctx := context.Background()
	ds := daemonSet("mc-annotated", "mesh-conformance.local/standin:lab")
	_, err := kube.AppsV1().DaemonSets(ds.Namespace).Create(ctx, ds, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = kube.AppsV1().DaemonSets("mc-baseline").Delete(ctx, "mc-annotated", metav1.DeleteOptions{})
	})
	require.NoError(t, ready.DaemonSet(ctx, kube, "mc-baseline", "mc-annotated", time.Minute))
	pod, err := ready.Pod(ctx, kube, "mc-baseline", "app=mc-annotated", time.Minute)
	require.NoError(t, err)

	err = ready.PodsAnnotated(ctx, kube, "mc-baseline", "app=mc-annotated", "ambient.istio.io/redirection", "enabled", 3*time.Second)
	require.Error(t, err, "pending is not enabled")
	assert.Contains(t, err.Error(), `has ambient.istio.io/redirection="pending"`)

	changed := make(chan time.Time, 1)
	go func() {
		time.Sleep(3 * time.Second)
		_, err := kube.CoreV1().Pods("mc-baseline").Patch(ctx, pod.Name, types.MergePatchType,
			[]byte(`{"metadata":{"annotations":{"ambient.istio.io/redirection":"enabled"}}}`), metav1.PatchOptions{})
		assert.NoError(t, err)
		changed <- time.Now()
	}()
	require.NoError(t, ready.PodsAnnotated(ctx, kube, "mc-baseline", "app=mc-annotated", "ambient.istio.io/redirection", "enabled", time.Minute))
	assert.False(t, time.Now().Before(<-changed), "passed only after the change")
}
