package kservemesh

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/tests/cases"
	"github.com/secure-inference/mesh-conformance/tests/install"
)

// virtualHostFeature: the effect of disableIstioVirtualHost. Setup checked
// the ConfigMap; this checks what KServe did with it: for each
// InferenceService, no top-level VirtualService and no ExternalName Service
// of its name in user1 (KServe's ingress reconciler creates both, named
// after the InferenceService, only while the flag is false).
func virtualHostFeature() features.Feature {
	f := run.Feature("virtual-host-disabled", "premise")
	for _, isvc := range []string{cases.SklearnIris, cases.SklearnIrisBurst} {
		f = f.Assess(isvc+"-has-no-top-level-virtual-service", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run.Check(ctx, t, "virtual-host-disabled/"+isvc, install.CheckNoTopLevelHost(ctx, run.Kube, run.Istio, "user1", isvc))
			return ctx
		})
	}
	return f.Feature()
}

// activatorPremiseFeature: the matrix means what it claims only if the
// activator is on the path of sklearn-iris-burst (its ServerlessService in
// Proxy mode) and off the path of sklearn-iris (Serve mode).
func activatorPremiseFeature() features.Feature {
	want := map[string]string{cases.SklearnIris: "Serve", cases.SklearnIrisBurst: "Proxy"}
	f := run.Feature("activator-premise", "premise")
	for _, isvc := range []string{cases.SklearnIris, cases.SklearnIrisBurst} {
		f = f.Assess(isvc+"-sks-"+want[isvc], func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run.Check(ctx, t, "activator-premise/"+isvc, sksMode(ctx, isvc, want[isvc]))
			return ctx
		})
	}
	return f.Feature()
}

func sksMode(ctx context.Context, isvc, want string) error {
	list, err := run.Apply.Dynamic.Resource(install.ServerlessServices).Namespace("user1").List(ctx, metav1.ListOptions{
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
