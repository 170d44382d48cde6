package opeaistio

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRestartRunningSkipsScaledDown(t *testing.T) {
	zero, one := int32(0), int32(1)
	kube := fake.NewSimpleClientset(
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "chatqna", Name: "chatqna-nginx"}, Spec: appsv1.DeploymentSpec{Replicas: &one}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "chatqna", Name: "chatqna-tgi"}, Spec: appsv1.DeploymentSpec{Replicas: &zero}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "chatqna", Name: "chatqna-ui"}})
	require.NoError(t, restartRunning(context.Background(), kube, "chatqna"))
	for name, want := range map[string]bool{"chatqna-nginx": true, "chatqna-tgi": false, "chatqna-ui": true} {
		d, err := kube.AppsV1().Deployments("chatqna").Get(context.Background(), name, metav1.GetOptions{})
		require.NoError(t, err)
		_, restarted := d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"]
		assert.Equal(t, want, restarted, name)
	}
}

func TestCheckClaimBound(t *testing.T) {
	ctx := context.Background()
	claim := func(phase corev1.PersistentVolumeClaimPhase) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "models", Namespace: "chatqna"}, Status: corev1.PersistentVolumeClaimStatus{Phase: phase}}
	}
	require.NoError(t, CheckClaimBound(ctx, fake.NewSimpleClientset(claim(corev1.ClaimBound)), "chatqna", "models"))
	assert.ErrorContains(t, CheckClaimBound(ctx, fake.NewSimpleClientset(claim(corev1.ClaimPending)), "chatqna", "models"), "is Pending, not Bound")
	assert.ErrorContains(t, CheckClaimBound(ctx, fake.NewSimpleClientset(), "chatqna", "models"), "create it before the run")

	// kind's standard class binds on first use: Pending is fine there.
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	standard := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "standard", Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		VolumeBindingMode: &wffc}
	require.NoError(t, CheckClaimBound(ctx, fake.NewSimpleClientset(standard, claim(corev1.ClaimPending)), "chatqna", "models"))
}

// The light profile keeps what it is told to and what is already stopped,
// and names only the deployments it had to scale down.
func TestScaleToZeroExceptNamesWhatItScaled(t *testing.T) {
	zero := int32(0)
	kube := fake.NewSimpleClientset(
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "chatqna", Name: "chatqna-nginx"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "chatqna", Name: "chatqna-tgi"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "chatqna", Name: "chatqna-retriever"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "chatqna", Name: "chatqna-ui"}, Spec: appsv1.DeploymentSpec{Replicas: &zero}})
	scaled, err := scaleToZeroExcept(context.Background(), kube, "chatqna", ChatQnANginx)
	require.NoError(t, err)
	assert.Equal(t, []string{"chatqna-retriever", "chatqna-tgi"}, scaled)
	for name, want := range map[string]bool{"chatqna-nginx": false, "chatqna-tgi": true, "chatqna-retriever": true} {
		d, err := kube.AppsV1().Deployments("chatqna").Get(context.Background(), name, metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, want, d.Spec.Replicas != nil && *d.Spec.Replicas == 0, name)
	}
}
