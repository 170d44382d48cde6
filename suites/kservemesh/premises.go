package kservemesh

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// virtualHostFeature: the effect of disableIstioVirtualHost. Setup checked
// the ConfigMap; this checks what KServe did with it: for each
// InferenceService, no top-level VirtualService and no ExternalName Service
// of its name in user1 (KServe's ingress reconciler creates both, named
// after the InferenceService, only while the flag is false), and in
// traffic, the top-level host that the flag takes away (TopLevelHost).
var virtualHostFeature = harness.Feature{
	Name: "virtual-host-disabled", Kind: harness.KindPremise, Applies: options.Corrected, Manifests: []string{"kservemesh/inferenceservices.yaml", "kservemesh/clients.yaml"},
	Checks:   []harness.Check{noTopLevelHost(SklearnIris), noTopLevelHost(SklearnIrisBurst)},
	Matrices: harness.Fixed(TopLevelHost()),
}

// noTopLevelHost checks that KServe made no top-level VirtualService or
// ExternalName Service for an InferenceService.
func noTopLevelHost(isvc string) harness.Check {
	return harness.Check{Name: isvc, Run: func(ctx context.Context, e *harness.Env) error {
		return CheckNoTopLevelHost(ctx, e.Kube, e.Istio, "user1", isvc)
	}}
}

// activatorPremiseFeature: the matrix means what it claims only if the
// activator is on the path of sklearn-iris-burst (its ServerlessService in
// Proxy mode) and off the path of sklearn-iris (Serve mode).
var activatorPremiseFeature = harness.Feature{
	Name: "activator-premise", Kind: harness.KindPremise, Manifests: []string{"kservemesh/inferenceservices.yaml"}, Applies: options.Corrected,
	Checks: []harness.Check{sksMode(SklearnIris, "Serve"), sksMode(SklearnIrisBurst, "Proxy")},
}

// sksMode checks the ServerlessService of the revision that serves (the
// latest ready one: an older revision left by a rollout, restart-isolation's
// on a kept cluster, is scaled to zero and in Proxy mode, and serves
// nothing).
func sksMode(isvc, want string) harness.Check {
	return harness.Check{Name: isvc, Run: func(ctx context.Context, e *harness.Env) error { return checkSKSMode(ctx, e, isvc, want) }}
}

func checkSKSMode(ctx context.Context, e *harness.Env, isvc, want string) error {
	u, err := e.Apply.Dynamic.Resource(InferenceServices).Namespace("user1").Get(ctx, isvc, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading InferenceService %s: %w", isvc, err)
	}
	rev, _, _ := unstructured.NestedString(u.Object, "status", "components", "predictor", "latestReadyRevision")
	if rev == "" {
		return fmt.Errorf("InferenceService %s has no ready predictor revision", isvc)
	}
	sks, err := e.Apply.Dynamic.Resource(ServerlessServices).Namespace("user1").Get(ctx, rev, metav1.GetOptions{})
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
