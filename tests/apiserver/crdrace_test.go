//go:build apiserver

package apiserver_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/secure-inference/mesh-conformance/tests/apply"
)

// A chart creates a CRD and the next step applies an object of its kind at
// once (the Knative operator's chart, then KnativeServing): Helm does not
// wait for a templated CRD to be Established, and discovery lags behind it.
// The applier waits, bounded, for a kind whose CRD exists; a kind without
// a CRD still fails at once, naming the kind.
func TestApplyWaitsForACRDCreatedAMomentAgo(t *testing.T) {
	ctx := context.Background()
	a, err := apply.New(server.Config)
	require.NoError(t, err)
	var mu sync.Mutex
	var logs []string
	a.Logf = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logs = append(logs, fmt.Sprintf(format, args...))
	}
	// Discovery cached before the CRD exists, as in a run.
	_, err = a.Resource(&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}})
	require.NoError(t, err)

	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "widgets.race.mesh-conformance.dev"},
		"spec": map[string]any{"group": "race.mesh-conformance.dev", "scope": "Namespaced",
			"names": map[string]any{"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}}}
	crds := a.Dynamic.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	_, err = crds.Create(ctx, crd, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = crds.Delete(context.Background(), crd.GetName(), metav1.DeleteOptions{}) })

	widget := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "race.mesh-conformance.dev/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w", "namespace": "default"}, "spec": map[string]any{"size": 1}}}
	require.NoError(t, a.Apply(ctx, widget), "applied once its CRD is served")
	t.Logf("applier log: %v", logs)

	gadget := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "race.mesh-conformance.dev/v1", "kind": "Gadget",
		"metadata": map[string]any{"name": "g", "namespace": "default"}}}
	err = a.Apply(ctx, gadget)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Gadget is not served by this cluster (is its CRD installed?)")
}
