package kservemesh

import (
	"context"
	"testing"

	istionetworking "istio.io/client-go/pkg/apis/networking/v1"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/install"
)

// The setup step's check: the flag as the chart renders it passes; KServe's
// default (false), a missing flag or a broken ConfigMap fail with the fix.
func TestCheckIstioVirtualHostDisabled(t *testing.T) {
	ctx := context.Background()
	ingress := func(raw string) *fake.Clientset {
		return fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: install.KServeConfigMap, Namespace: install.KServeNamespace},
			Data: map[string]string{install.KServeIngressKey: raw}})
	}
	assert.NoError(t, CheckIstioVirtualHostDisabled(ctx, ingress(`{"ingressGateway": "knative-serving/knative-ingress-gateway", "disableIstioVirtualHost": true}`)))
	for _, raw := range []string{`{"ingressGateway": "x", "disableIstioVirtualHost": false}`, `{"ingressGateway": "x"}`} {
		assert.ErrorContains(t, CheckIstioVirtualHostDisabled(ctx, ingress(raw)), "kserve.controller.gateway.disableIstioVirtualHost=true", raw)
	}
	assert.ErrorContains(t, CheckIstioVirtualHostDisabled(ctx, ingress(`ingress : |- {`)), "not JSON")
	assert.ErrorContains(t, CheckIstioVirtualHostDisabled(ctx, fake.NewClientset()), "reading kserve/inferenceservice-config")
}

func TestCheckNoTopLevelHost(t *testing.T) {
	ctx := context.Background()
	require.NoError(t, CheckNoTopLevelHost(ctx, fake.NewSimpleClientset(), istiofake.NewSimpleClientset(), "user1", "sklearn-iris"))

	vs := &istionetworking.VirtualService{ObjectMeta: metav1.ObjectMeta{Name: "sklearn-iris", Namespace: "user1"}}
	vs.Spec.Hosts = []string{"sklearn-iris-user1.example.com"}
	err := CheckNoTopLevelHost(ctx, fake.NewSimpleClientset(), istiofake.NewSimpleClientset(vs), "user1", "sklearn-iris")
	assert.ErrorContains(t, err, "VirtualService user1/sklearn-iris exists (hosts [sklearn-iris-user1.example.com]")

	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "sklearn-iris", Namespace: "user1"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "knative-local-gateway.istio-system.svc.cluster.local"}}
	err = CheckNoTopLevelHost(ctx, fake.NewSimpleClientset(svc), istiofake.NewSimpleClientset(), "user1", "sklearn-iris")
	assert.ErrorContains(t, err, "Service user1/sklearn-iris exists (type ExternalName, knative-local-gateway")
}

// The predictor's state from its real objects: the ServerlessService's
// mode and the ready pods, both by the Knative service label.
func TestPredictorState(t *testing.T) {
	ctx := context.Background()
	label := map[string]string{"serving.knative.dev/service": "sklearn-iris-cold-predictor"}
	sks := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "networking.internal.knative.dev/v1alpha1", "kind": "ServerlessService",
		"metadata": map[string]any{"name": "sklearn-iris-cold-predictor-00001", "namespace": "user1", "labels": map[string]any{"serving.knative.dev/service": "sklearn-iris-cold-predictor"}},
		"spec":     map[string]any{"mode": "Proxy"}}}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{ServerlessServices: "ServerlessServiceList"}, sks)
	readyPod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p1", Namespace: "user1", Labels: label},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	starting := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p2", Namespace: "user1", Labels: label}, Status: corev1.PodStatus{Phase: corev1.PodPending}}

	st, err := Predictor{Kube: fake.NewSimpleClientset(starting), Dynamic: dyn, Namespace: "user1", ISVC: "sklearn-iris-cold"}.State(ctx)
	require.NoError(t, err)
	assert.True(t, st.Cold(), "a pending pod behind the activator: cold")
	st, err = Predictor{Kube: fake.NewSimpleClientset(readyPod, starting), Dynamic: dyn, Namespace: "user1", ISVC: "sklearn-iris-cold"}.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, st.ReadyPods)

	empty := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{ServerlessServices: "ServerlessServiceList"})
	_, err = Predictor{Kube: fake.NewSimpleClientset(), Dynamic: empty, Namespace: "user1", ISVC: "sklearn-iris-cold"}.State(ctx)
	assert.ErrorContains(t, err, "no ServerlessService for sklearn-iris-cold-predictor")
}
