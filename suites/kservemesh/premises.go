package kservemesh

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
)

// virtualHostFeature: the effect of disableIstioVirtualHost. Setup checked
// the ConfigMap; this checks what KServe did with it: for each
// InferenceService, no top-level VirtualService and no ExternalName Service
// of its name in user1 (KServe's ingress reconciler creates both, named
// after the InferenceService, only while the flag is false), and in
// traffic, the top-level host that the flag takes away (TopLevelHost).
var virtualHostFeature = harness.Feature{
	Name: "virtual-host-disabled", Kind: "premise", Manifests: []string{"kservemesh/inferenceservices.yaml", "kservemesh/clients.yaml"},
	Body: func(r *harness.Run, name string, f *features.FeatureBuilder) *features.FeatureBuilder {
		for _, isvc := range []string{SklearnIris, SklearnIrisBurst} {
			f = f.Assess(isvc+"-has-no-top-level-virtual-service", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
				r.Check(ctx, t, name+"/"+isvc, CheckNoTopLevelHost(ctx, r.Kube, r.Istio, "user1", isvc))
				return ctx
			})
		}
		return harness.MatrixBody("top-level-host-not-served", func(context.Context, *testing.T, *harness.Run) matrix.Matrix { return TopLevelHost() })(r, name, f)
	},
	Matrices: func(*harness.Run) []matrix.Matrix { return []matrix.Matrix{TopLevelHost()} },
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

// sksMode checks the ServerlessService of the revision that serves (the
// latest ready one: an older revision left by a rollout, restart-isolation's
// on a kept cluster, is scaled to zero and in Proxy mode, and serves
// nothing).
func sksMode(ctx context.Context, r *harness.Run, isvc, want string) error {
	u, err := r.Apply.Dynamic.Resource(InferenceServices).Namespace("user1").Get(ctx, isvc, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading InferenceService %s: %w", isvc, err)
	}
	rev, _, _ := unstructured.NestedString(u.Object, "status", "components", "predictor", "latestReadyRevision")
	if rev == "" {
		return fmt.Errorf("InferenceService %s has no ready predictor revision", isvc)
	}
	sks, err := r.Apply.Dynamic.Resource(ServerlessServices).Namespace("user1").Get(ctx, rev, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading the ServerlessService of %s's revision %s: %w", isvc, rev, err)
	}
	mode, _, _ := unstructured.NestedString(sks.Object, "spec", "mode")
	if mode != want {
		return fmt.Errorf("ServerlessService %s is in %s mode, want %s: the activator is %s the path", sks.GetName(), mode, want,
			map[string]string{"Proxy": "on", "Serve": "off"}[mode])
	}
	return nil
}
