package kservemesh

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/tests/cases"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

// knativeSidecarsFeature: the activator and autoscaler carry istio-proxy
// after knative-serving was labelled and they were restarted.
func knativeSidecarsFeature() features.Feature {
	f := run.Feature("knative-sidecars", "premise")
	for _, d := range install.KnativeSidecarDeployments {
		f = f.Assess(d+"-has-istio-proxy", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run.Check(t, "knative-sidecars/"+d, ready.PodsWithContainer(ctx, run.Kube, install.KnativeNamespace, "app="+d, "istio-proxy", run.Opts.Timeouts.ReadyTimeout))
			return ctx
		})
	}
	return f.Feature()
}

// virtualHostFeature: the top-level virtual host is disabled in KServe's
// ingress config, with the rest of the config intact.
func virtualHostFeature() features.Feature {
	return run.Feature("virtual-host-disabled", "premise").
		Assess("ingress-config-has-disableIstioVirtualHost", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cm, err := run.Kube.CoreV1().ConfigMaps(install.KServeNamespace).Get(ctx, install.KServeConfigMap, metav1.GetOptions{})
			if err == nil {
				var ingress map[string]any
				if err = json.Unmarshal([]byte(cm.Data[install.KServeIngressKey]), &ingress); err == nil {
					switch {
					case ingress["disableIstioVirtualHost"] != true:
						err = fmt.Errorf("disableIstioVirtualHost is %v", ingress["disableIstioVirtualHost"])
					case ingress["ingressGateway"] == nil:
						err = fmt.Errorf("ingressGateway is gone from the ingress config")
					}
				}
			}
			run.Check(t, "virtual-host-disabled", err)
			return ctx
		}).Feature()
}

var sksGVR = schema.GroupVersionResource{Group: "networking.internal.knative.dev", Version: "v1alpha1", Resource: "serverlessservices"}

// activatorPremiseFeature: the matrix means what it claims only if the
// activator is on the path of sklearn-iris-burst (its ServerlessService in
// Proxy mode) and off the path of sklearn-iris (Serve mode).
func activatorPremiseFeature() features.Feature {
	want := map[string]string{cases.SklearnIris: "Serve", cases.SklearnIrisBurst: "Proxy"}
	f := run.Feature("activator-premise", "premise")
	for _, isvc := range []string{cases.SklearnIris, cases.SklearnIrisBurst} {
		f = f.Assess(isvc+"-sks-"+want[isvc], func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run.Check(t, "activator-premise/"+isvc, sksMode(ctx, isvc, want[isvc]))
			return ctx
		})
	}
	return f.Feature()
}

func sksMode(ctx context.Context, isvc, want string) error {
	list, err := run.Apply.Dynamic.Resource(sksGVR).Namespace("user1").List(ctx, metav1.ListOptions{
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
