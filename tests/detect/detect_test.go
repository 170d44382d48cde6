package detect

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
)

func dep(ns, name, image string, labels map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Image: image}}}}}}
}

func TestPlan(t *testing.T) {
	found := []Found{{Component: Istio, Installed: true, Version: "1.26.2"}, {Component: CertManager}}
	policy := func(c string) Policy {
		if c == Istio {
			return Missing
		}
		return All
	}
	steps := Plan(found, []string{Istio, CertManager, KServe}, policy)
	assert.False(t, steps[0].Install, "istio found and --install=missing: left alone")
	assert.True(t, steps[1].Install)
	assert.True(t, steps[2].Install)
	assert.Contains(t, Describe(steps), "use as found")
	none := Plan(found, []string{Istio, CertManager}, func(string) Policy { return None })
	assert.Equal(t, []string{CertManager}, MissingComponents(none))
}

func TestVersionFromLabelsOrImage(t *testing.T) {
	assert.Equal(t, "1.27.1", version(dep("istio-system", "istiod", "docker.io/istio/pilot:1.27.1", nil)))
	assert.Equal(t, "1.21.1", version(dep("knative-serving", "activator", "gcr.io/knative-releases/activator@sha256:abc", map[string]string{"app.kubernetes.io/version": "1.21.1"})))
	assert.Equal(t, "", version(dep("x", "y", "localhost:5000/img", nil)), "a registry port is not a tag")
}

func TestDetectSeesWorkloadsNotJustCRDs(t *testing.T) {
	kube := fake.NewSimpleClientset(dep("istio-system", "istiod", "docker.io/istio/pilot:1.27.1", nil),
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "ztunnel"}})
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{crdGVR: "CustomResourceDefinitionList"})
	found, err := Detect(context.Background(), kube, dyn)
	assert.NoError(t, err)
	byName := map[string]Found{}
	for _, f := range found {
		byName[f.Component] = f
	}
	assert.True(t, byName[Istio].Installed)
	assert.Equal(t, "1.27.1", byName[Istio].Version)
	assert.Contains(t, byName[Istio].Detail, "ambient available")
	assert.False(t, byName[CertManager].Installed)
	assert.False(t, byName[GatewayAPI].Installed)
}
