package kservemesh

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/install"
)

// virtualHostFeature: the effect of disableIstioVirtualHost. Setup checked
// the ConfigMap; this checks what KServe did with it: for each
// InferenceService, no top-level VirtualService and no ExternalName Service
// of its name in user1 (KServe's ingress reconciler creates both, named
// after the InferenceService, only while the flag is false).
var virtualHostFeature = harness.Feature{
	Name: "virtual-host-disabled", Kind: "premise", Manifests: []string{"kservemesh/inferenceservices.yaml"},
	Body: func(r *harness.Run, name string, f *features.FeatureBuilder) *features.FeatureBuilder {
		for _, isvc := range []string{SklearnIris, SklearnIrisBurst} {
			f = f.Assess(isvc+"-has-no-top-level-virtual-service", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
				r.Check(ctx, t, name+"/"+isvc, install.CheckNoTopLevelHost(ctx, r.Kube, r.Istio, "user1", isvc))
				return ctx
			})
		}
		return f
	},
}

// activatorPremiseFeature: the matrix means what it claims only if the
// activator is on the path of sklearn-iris-burst (its ServerlessService in
// Proxy mode) and off the path of sklearn-iris (Serve mode).
var activatorPremiseFeature = harness.Feature{
	Name: "activator-premise", Kind: "premise", Manifests: []string{"kservemesh/inferenceservices.yaml"},
	Body: func(r *harness.Run, name string, f *features.FeatureBuilder) *features.FeatureBuilder {
		want := map[string]string{SklearnIris: "Serve", SklearnIrisBurst: "Proxy"}
		for _, isvc := range []string{SklearnIris, SklearnIrisBurst} {
			f = f.Assess(isvc+"-sks-"+want[isvc], func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
				r.Check(ctx, t, name+"/"+isvc, sksMode(ctx, r, isvc, want[isvc]))
				return ctx
			})
		}
		return f
	},
}

func sksMode(ctx context.Context, r *harness.Run, isvc, want string) error {
	list, err := r.Apply.Dynamic.Resource(install.ServerlessServices).Namespace("user1").List(ctx, metav1.ListOptions{
		LabelSelector: "serving.knative.dev/service=" + isvc + "-predictor"})
	if err != nil {
		return fmt.Errorf("listing ServerlessServices of %s: %w", isvc, err)
	}
	if len(list.Items) == 0 {
		return fmt.Errorf("no ServerlessService for %s-predictor", isvc)
	}
	for _, sks := range list.Items {
		mode, _, _ := unstructuredString(sks.Object, "spec", "mode")
		if mode != want {
			return fmt.Errorf("ServerlessService %s is in %s mode, want %s: the activator is %s the path", sks.GetName(), mode, want,
				map[string]string{"Proxy": "on", "Serve": "off"}[mode])
		}
	}
	return nil
}

func unstructuredString(obj map[string]any, path ...string) (string, bool, error) {
	cur := any(obj)
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false, nil
		}
		cur = m[p]
	}
	s, ok := cur.(string)
	return s, ok, nil
}
