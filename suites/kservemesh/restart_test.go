package kservemesh

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
)

func sks(name, mode, activator string) *unstructured.Unstructured {
	obj := map[string]any{"apiVersion": "networking.internal.knative.dev/v1alpha1", "kind": "ServerlessService",
		"metadata": map[string]any{"name": name, "namespace": "user1", "labels": map[string]any{"serving.knative.dev/service": "sklearn-iris-predictor"}},
		"spec":     map[string]any{"mode": mode}}
	if activator != "" {
		obj["status"] = map[string]any{"conditions": []any{
			map[string]any{"type": "Ready", "status": "True"},
			map[string]any{"type": "ActivatorEndpointsPopulated", "status": activator}}}
	}
	return &unstructured.Unstructured{Object: obj}
}

// The path of a restarting model: the autoscaler's mode may still say
// Serve while the reconciler has put the activator behind the endpoints;
// both are shown, per revision.
func TestServerlessServicePathShowsModeAndActivator(t *testing.T) {
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{ServerlessServices: "ServerlessServiceList"},
		sks("sklearn-iris-predictor-00001", "Serve", "True"), sks("sklearn-iris-predictor-00002", "Proxy", ""))
	got, err := ServerlessServicePath(context.Background(), dyn, "user1", SklearnIris)
	require.NoError(t, err)
	assert.Equal(t, "sklearn-iris-predictor-00001: Serve, activator endpoints True; sklearn-iris-predictor-00002: Proxy, activator endpoints unknown", got)

	empty := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{ServerlessServices: "ServerlessServiceList"})
	_, err = ServerlessServicePath(context.Background(), empty, "user1", SklearnIris)
	assert.ErrorContains(t, err, "no ServerlessService for sklearn-iris-predictor")
}

func isvcWith(created, ready string, isReady bool) *unstructured.Unstructured {
	status := "False"
	if isReady {
		status = "True"
	}
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
		"metadata": map[string]any{"name": SklearnIris, "namespace": "user1"},
		"spec":     map[string]any{"predictor": map[string]any{"model": map[string]any{"modelFormat": map[string]any{"name": "sklearn"}}}},
		"status": map[string]any{
			"components": map[string]any{"predictor": map[string]any{"latestCreatedRevision": created, "latestReadyRevision": ready}},
			"conditions": []any{map[string]any{"type": "Ready", "status": status}}}}}
}

// The rollout sets the annotation KServe propagates to the revision
// template, waits for a new revision, then for it to be the ready one.
func TestRolloutMakesANewRevisionAndWaitsForIt(t *testing.T) {
	ctx := context.Background()
	dyn := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), isvcWith("sklearn-iris-predictor-00001", "sklearn-iris-predictor-00001", true))
	res := dyn.Resource(InferenceServices).Namespace("user1")
	d := Rollout(dyn, "user1", SklearnIris, 1500*time.Millisecond)

	require.NoError(t, d.Restore(ctx), "never taken: nothing to wait for")
	require.NoError(t, d.Take(ctx))
	u, err := res.Get(ctx, SklearnIris, metav1.GetOptions{})
	require.NoError(t, err)
	stamp, found, _ := unstructured.NestedString(u.Object, "spec", "predictor", "annotations", RolloutAnnotation)
	assert.True(t, found)
	_, err = time.Parse(time.RFC3339Nano, stamp)
	assert.NoError(t, err)
	_, kept, _ := unstructured.NestedMap(u.Object, "spec", "predictor", "model")
	assert.True(t, kept, "a merge patch: the predictor's model is untouched")

	assert.ErrorContains(t, d.Gone(ctx), `a new revision not within 1.5s (before the rollout: "sklearn-iris-predictor-00001"`)
	_, err = res.Update(ctx, isvcWith("sklearn-iris-predictor-00002", "sklearn-iris-predictor-00001", false), metav1.UpdateOptions{})
	require.NoError(t, err)
	require.NoError(t, d.Gone(ctx))
	assert.ErrorContains(t, d.Restore(ctx), "Ready on its new revision not within", "the old revision still serves")
	_, err = res.Update(ctx, isvcWith("sklearn-iris-predictor-00002", "sklearn-iris-predictor-00002", true), metav1.UpdateOptions{})
	require.NoError(t, err)
	require.NoError(t, d.Restore(ctx))
}
