package disruption

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
	"k8s.io/client-go/kubernetes/fake"
)

// readyDeployment has replicas pods of labels, all available (the fake
// clientset runs no controller: the status stays as written).
func readyDeployment(ns, name string, replicas int32, lbls map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: lbls},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbls}}},
		Status: appsv1.DeploymentStatus{Replicas: replicas, UpdatedReplicas: replicas, AvailableReplicas: replicas},
	}
}

func pod(ns, name, node string, lbls map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbls, UID: types.UID(ns + "/" + name)},
		Spec: corev1.PodSpec{NodeName: node}}
}

func replicasOf(t *testing.T, kube *fake.Clientset, ns, name string) int32 {
	t.Helper()
	d, err := kube.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return *d.Spec.Replicas
}

func podNames(t *testing.T, kube *fake.Clientset, ns string) []string {
	t.Helper()
	list, err := kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	var out []string
	for _, p := range list.Items {
		out = append(out, p.Name)
	}
	return out
}

func TestScaleToZeroAndBack(t *testing.T) {
	ctx := context.Background()
	lbls := map[string]string{"app": "istiod"}
	kube := fake.NewClientset(readyDeployment("istio-system", "istiod", 2, lbls))
	d := ScaleToZero(kube, "istiod", "istio-system", "istiod", 5*time.Second)
	assert.Contains(t, d.What, "istio-system/istiod")

	require.NoError(t, d.Take(ctx))
	assert.Equal(t, int32(0), replicasOf(t, kube, "istio-system", "istiod"))
	require.NoError(t, d.Gone(ctx), "no istiod pod left")
	// A second Take (a retry) must not make Restore put back zero.
	require.NoError(t, d.Take(ctx))
	require.NoError(t, d.Restore(ctx))
	assert.Equal(t, int32(2), replicasOf(t, kube, "istio-system", "istiod"), "the original replicas are back")
	require.NoError(t, d.Restore(ctx), "Restore is idempotent")
	assert.Equal(t, int32(2), replicasOf(t, kube, "istio-system", "istiod"))
}

func TestScaleToZeroGoneWaitsForPods(t *testing.T) {
	ctx := context.Background()
	lbls := map[string]string{"app": "activator"}
	kube := fake.NewClientset(readyDeployment("knative-serving", "activator", 1, lbls), pod("knative-serving", "activator-1", "n1", lbls))
	d := ScaleToZero(kube, "activator", "knative-serving", "activator", 1500*time.Millisecond)
	require.NoError(t, d.Take(ctx))
	err := d.Gone(ctx)
	require.Error(t, err, "a pod still runs: not gone")
	assert.Contains(t, err.Error(), "activator-1")
	require.NoError(t, d.Restore(ctx))
	assert.Equal(t, int32(1), replicasOf(t, kube, "knative-serving", "activator"))
}

func TestRestoreBeforeTakeDoesNothing(t *testing.T) {
	kube := fake.NewClientset(readyDeployment("istio-system", "istiod", 1, map[string]string{"app": "istiod"}))
	d := ScaleToZero(kube, "istiod", "istio-system", "istiod", time.Second)
	require.NoError(t, d.Restore(context.Background()))
	assert.Equal(t, int32(1), replicasOf(t, kube, "istio-system", "istiod"))
}

func TestRestartPodsDeletesTheWorkloadsPods(t *testing.T) {
	ctx := context.Background()
	app := map[string]string{"app": "chatqna-nginx"}
	kube := fake.NewClientset(readyDeployment("chatqna", "chatqna-nginx", 1, app),
		pod("chatqna", "nginx-1", "n1", app), pod("chatqna", "nginx-2", "n1", app),
		pod("chatqna", "sleep", "n1", map[string]string{"app": "sleep"}))
	d := RestartPods(kube, "node-proxy", "chatqna", "app=chatqna-nginx", 5*time.Second)
	require.NoError(t, d.Take(ctx))
	assert.Equal(t, []string{"sleep"}, podNames(t, kube, "chatqna"), "the workload's pods deleted, the client's kept")
	require.NoError(t, d.Gone(ctx))
	require.NoError(t, d.Restore(ctx))
}

func TestRestartPodsWithNothingToDeleteFails(t *testing.T) {
	kube := fake.NewClientset()
	d := RestartPods(kube, "node-proxy", "chatqna", "app=chatqna-nginx", time.Second)
	assert.ErrorContains(t, d.Take(context.Background()), "no pod")
}

func TestRestartNodeProxyDeletesZtunnelOnTheTargetsNode(t *testing.T) {
	ctx := context.Background()
	zt := map[string]string{"app": "ztunnel"}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "ztunnel"},
		Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, NumberReady: 2, UpdatedNumberScheduled: 2}}
	kube := fake.NewClientset(ds,
		pod("chatqna", "nginx-1", "node-a", map[string]string{"app": "chatqna-nginx"}),
		pod("istio-system", "ztunnel-a", "node-a", zt), pod("istio-system", "ztunnel-b", "node-b", zt))
	d := RestartNodeProxy(kube, "node-proxy", "chatqna", "app=chatqna-nginx", 5*time.Second)
	require.NoError(t, d.Take(ctx))
	assert.Equal(t, []string{"ztunnel-b"}, podNames(t, kube, "istio-system"), "only the target node's ztunnel")
	require.NoError(t, d.Gone(ctx))
	require.NoError(t, d.Restore(ctx))
}
