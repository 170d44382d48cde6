package kservemesh

import (
	"context"
	"encoding/json"
	"fmt"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/secure-inference/mesh-conformance/tests/coldstart"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

// What this suite knows of KServe and Knative beyond installing them
// (tests/install installs both): the document's steps on knative-serving
// and the suite's premises on KServe's objects.

// KnativeSidecarDeployments must carry sidecars once knative-serving is
// labelled (kserve-servicemesh.md): the activator proxies requests into
// user1, the autoscaler probes its pods.
var KnativeSidecarDeployments = []string{"activator", "autoscaler"}

// knativeSidecars is the document's step: it labels knative-serving for
// sidecar injection, restarts the activator and autoscaler, and checks
// that their pods now carry istio-proxy (the last check only with the
// installer's readiness waits on).
func knativeSidecars(ctx context.Context, in *install.Installer) error {
	if _, err := install.Enroll(ctx, in.Kube, install.KnativeNamespace, dataplane.Sidecar); err != nil {
		return err
	}
	for _, d := range KnativeSidecarDeployments {
		if err := install.Restart(ctx, in.Kube, install.KnativeNamespace, d); err != nil {
			return err
		}
	}
	if !in.Wait {
		return nil
	}
	for _, d := range KnativeSidecarDeployments {
		if err := ready.PodsWithContainer(ctx, in.Kube, install.KnativeNamespace, "app="+d, "istio-proxy", in.Opts.Timeouts.ReadyTimeout); err != nil {
			return err
		}
	}
	return nil
}

// ClusterServingRuntimes is KServe's cluster-wide runtime resource.
var ClusterServingRuntimes = schema.GroupVersionResource{Group: "serving.kserve.io", Version: "v1alpha1", Resource: "clusterservingruntimes"}

// CheckRuntime is the premise of applying an InferenceService: the
// ClusterServingRuntime that serves it exists and is not disabled.
// Without it the InferenceService would only time out, NoSupportingRuntime.
func CheckRuntime(ctx context.Context, dyn dynamic.Interface, name string) error {
	rt, err := dyn.Resource(ClusterServingRuntimes).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("ClusterServingRuntime %s does not exist: the InferenceServices would stay NoSupportingRuntime; "+
			"the kserve-runtime-configs chart installs runtimes only with kserve.servingruntime.enabled=true (default false)", name)
	}
	if err != nil {
		return fmt.Errorf("reading ClusterServingRuntime %s: %w", name, err)
	}
	if disabled, _, _ := unstructured.NestedBool(rt.Object, "spec", "disabled"); disabled {
		return fmt.Errorf("ClusterServingRuntime %s is disabled (spec.disabled: true): the InferenceServices would stay NoSupportingRuntime; "+
			"set kserve.servingruntime.sklearnserver.disabled=false in kserve-runtime-configs", name)
	}
	return nil
}

// CheckIstioVirtualHostDisabled checks the document's KServe setting where
// KServe reads it: "disableIstioVirtualHost": true in the ingress JSON of
// inferenceservice-config. The kserve chart sets it from its values
// (fixtures/kservemesh/kserve-resources.values.yaml), so a rerun's helm
// upgrade keeps it; a KServe found on the cluster, not installed by this
// run, may lack it, and then the run stops here with the fix.
func CheckIstioVirtualHostDisabled(ctx context.Context, kube kubernetes.Interface) error {
	ns, name, key, flag := install.KServeNamespace, install.KServeConfigMap, install.KServeIngressKey, install.KServeDisableVirtualHost
	cm, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading %s/%s: %w", ns, name, err)
	}
	var ingress map[string]any
	if err := json.Unmarshal([]byte(cm.Data[key]), &ingress); err != nil {
		return fmt.Errorf("%s/%s key %q is not JSON: %w", ns, name, key, err)
	}
	if ingress[flag] != true {
		return fmt.Errorf("%s/%s: %s is %v, not true, so KServe publishes each InferenceService's top-level host: "+
			"set the kserve chart's value kserve.controller.gateway.disableIstioVirtualHost=true (helm upgrade; the controller re-reads the ConfigMap on every reconcile)",
			ns, name, flag, ingress[flag])
	}
	return nil
}

// CheckNoTopLevelHost checks the effect of disableIstioVirtualHost on one
// InferenceService: KServe's ingress reconciler creates a VirtualService
// and an ExternalName Service, both named after the InferenceService, only
// while the flag is false (and never deletes them when it turns true).
func CheckNoTopLevelHost(ctx context.Context, kube kubernetes.Interface, istio istioclient.Interface, namespace, isvc string) error {
	vs, err := istio.NetworkingV1().VirtualServices(namespace).Get(ctx, isvc, metav1.GetOptions{})
	switch {
	case err == nil:
		return fmt.Errorf("VirtualService %s/%s exists (hosts %v, gateways %v): KServe still routes the top-level host, so %s did not take effect",
			namespace, isvc, vs.Spec.GetHosts(), vs.Spec.GetGateways(), install.KServeDisableVirtualHost)
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading VirtualService %s/%s: %w", namespace, isvc, err)
	}
	svc, err := kube.CoreV1().Services(namespace).Get(ctx, isvc, metav1.GetOptions{})
	switch {
	case err == nil:
		return fmt.Errorf("Service %s/%s exists (type %s, %s): KServe's top-level host is still published, so %s did not take effect",
			namespace, isvc, svc.Spec.Type, svc.Spec.ExternalName, install.KServeDisableVirtualHost)
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading Service %s/%s: %w", namespace, isvc, err)
	}
	return nil
}

// ServerlessServices is Knative's resource that puts the activator on a
// revision's path (Proxy) or takes it off (Serve).
var ServerlessServices = schema.GroupVersionResource{Group: "networking.internal.knative.dev", Version: "v1alpha1", Resource: "serverlessservices"}

// Predictor is an InferenceService's predictor as a scale-to-zero target:
// its ready pods and its ServerlessService's mode, both found by the
// Knative service label.
type Predictor struct {
	Kube            kubernetes.Interface
	Dynamic         dynamic.Interface
	Namespace, ISVC string
}

// State implements coldstart.Target.
func (p Predictor) State(ctx context.Context) (coldstart.State, error) {
	sel := metav1.ListOptions{LabelSelector: "serving.knative.dev/service=" + p.ISVC + "-predictor"}
	list, err := p.Dynamic.Resource(ServerlessServices).Namespace(p.Namespace).List(ctx, sel)
	if err != nil {
		return coldstart.State{}, fmt.Errorf("listing the ServerlessServices of %s: %w", p.ISVC, err)
	}
	if len(list.Items) == 0 {
		return coldstart.State{}, fmt.Errorf("no ServerlessService for %s-predictor in %s", p.ISVC, p.Namespace)
	}
	// The latest revision's (one per revision; the suite never updates it).
	mode, _, _ := unstructured.NestedString(list.Items[len(list.Items)-1].Object, "spec", "mode")
	pods, err := p.Kube.CoreV1().Pods(p.Namespace).List(ctx, sel)
	if err != nil {
		return coldstart.State{}, fmt.Errorf("listing the pods of %s: %w", p.ISVC, err)
	}
	st := coldstart.State{Mode: mode}
	for i := range pods.Items {
		if ready.PodReady(&pods.Items[i]) {
			st.ReadyPods++
		}
	}
	return st, nil
}
