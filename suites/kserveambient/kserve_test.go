package kserveambient

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/secure-inference/mesh-conformance/tests/install"
)

func configMap(deploy string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: install.KServeNamespace, Name: install.KServeConfigMap},
		Data: map[string]string{"deploy": deploy}}
}

// Standard passes; the chart's default (Knative), a missing key and a
// missing ConfigMap each fail, naming the fix or the object.
func TestCheckStandardMode(t *testing.T) {
	ctx := context.Background()
	assert.NoError(t, CheckStandardMode(ctx, fake.NewClientset(configMap(`{"defaultDeploymentMode": "Standard"}`))))
	err := CheckStandardMode(ctx, fake.NewClientset(configMap(`{"defaultDeploymentMode": "Knative"}`)))
	assert.ErrorContains(t, err, "kserve.controller.deploymentMode=Standard")
	assert.Error(t, CheckStandardMode(ctx, fake.NewClientset(configMap(""))))
	assert.ErrorContains(t, CheckStandardMode(ctx, fake.NewClientset()), "inferenceservice-config")
}

func TestCheckPredictorDeployment(t *testing.T) {
	ctx := context.Background()
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "user1", Name: "sklearn-iris-predictor"}}
	assert.NoError(t, CheckPredictorDeployment(ctx, fake.NewClientset(d), SklearnIris))
	assert.ErrorContains(t, CheckPredictorDeployment(ctx, fake.NewClientset(), SklearnIris), "not served in Standard mode")
}
