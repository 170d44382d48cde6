package ready

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func deployment(name string, podLabels map[string]string, available int32) *appsv1.Deployment {
	one := int32(1)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Generation: 1},
		Spec:       appsv1.DeploymentSpec{Replicas: &one, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: podLabels}}},
		Status:     appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: available},
	}
}

// Manifests label pod templates, not Deployments: the selector must match
// the pods' labels.
func TestDeploymentsSelectByPodTemplateLabels(t *testing.T) {
	kube := fake.NewSimpleClientset(deployment("sleep", map[string]string{"app": "sleep"}, 1), deployment("model", map[string]string{"app": "model"}, 0))
	ctx := context.Background()
	assert.NoError(t, Deployments(ctx, kube, "ns", "app=sleep", time.Second))
	err := Deployments(ctx, kube, "ns", "app in (sleep,model)", 100*time.Millisecond)
	assert.ErrorContains(t, err, "model (0/1 available)")
	err = Deployments(ctx, kube, "ns", "app=nothing", 100*time.Millisecond)
	assert.ErrorContains(t, err, "no deployment runs pods matching app=nothing")
	assert.ErrorContains(t, Deployments(ctx, kube, "ns", "app=(", time.Second), "selector")
}

// What was missing survives an API error at the deadline.
func TestPollKeepsWhatWasMissing(t *testing.T) {
	calls := 0
	err := poll(context.Background(), 10*time.Millisecond, "thing", func(context.Context) (string, error) {
		calls++
		if calls == 1 {
			return "0 of 1 pods ready", nil
		}
		return "", errors.New("client rate limiter Wait returned an error: rate: Wait(n=1) would exceed context deadline")
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "0 of 1 pods ready")
	err = poll(context.Background(), 10*time.Millisecond, "thing", func(context.Context) (string, error) {
		return "", errors.New("connection refused")
	})
	assert.ErrorContains(t, err, "connection refused", "the API error when nothing else was seen")
}
