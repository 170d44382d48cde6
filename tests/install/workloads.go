package install

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/secure-inference/mesh-conformance/tests/apply"
	"github.com/secure-inference/mesh-conformance/tests/coldstart"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

// KnativeNamespace is where Knative Serving runs.
const KnativeNamespace = "knative-serving"

// KnativeSidecarDeployments must carry sidecars once knative-serving is
// labelled (kserve-servicemesh.md): the activator proxies requests into
// user1, the autoscaler probes its pods.
var KnativeSidecarDeployments = []string{"activator", "autoscaler"}

// KnativeSidecars labels knative-serving for sidecar injection, restarts the
// activator and autoscaler, and checks that their pods now carry istio-proxy
// (the last check only with readiness waits on).
func (in *Installer) KnativeSidecars(ctx context.Context) error {
	if _, err := Enroll(ctx, in.Kube, KnativeNamespace, dataplane.Sidecar); err != nil {
		return err
	}
	for _, d := range KnativeSidecarDeployments {
		if err := Restart(ctx, in.Kube, KnativeNamespace, d); err != nil {
			return err
		}
	}
	if !in.Wait {
		return nil
	}
	for _, d := range KnativeSidecarDeployments {
		if err := ready.PodsWithContainer(ctx, in.Kube, KnativeNamespace, "app="+d, "istio-proxy", in.Opts.Timeouts.ReadyTimeout); err != nil {
			return err
		}
	}
	return nil
}

// ChatQnA names.
const (
	ChatQnANamespace = "chatqna"
	ChatQnANginx     = "chatqna-nginx"
)

// ChatQnA installs the ChatQnA chart with the given values. For the light
// profile it does not let Helm wait (model servers would never be ready on
// a small node): it scales every other deployment to zero, reports which
// ones the values had not already stopped, and waits for chatqna-nginx.
func (in *Installer) ChatQnA(ctx context.Context, profile options.Profile, values map[string]any, keep ...string) (scaled []string, err error) {
	r := in.release("chatqna", ChatQnANamespace,
		ChartRef{Source: in.Opts.ChartSource("chatqna"), Name: "chatqna", Version: in.Versions.ChatQnA}, values)
	r.Wait = in.Wait && profile == options.ProfileFull
	if _, err := in.Helm.Upgrade(ctx, r); err != nil {
		return nil, err
	}
	if profile == options.ProfileLight {
		if scaled, err = ScaleToZeroExcept(ctx, in, ChatQnANamespace, append([]string{ChatQnANginx}, keep...)...); err != nil {
			return scaled, err
		}
	}
	if in.Wait {
		err = ready.Deployments(ctx, in.Kube, ChatQnANamespace, "app="+ChatQnANginx, in.Opts.Timeouts.ReadyTimeout)
	}
	return scaled, err
}

// ScaleToZeroExcept scales every deployment of a namespace but keep to zero
// replicas and returns the ones it had to change.
func ScaleToZeroExcept(ctx context.Context, in *Installer, namespace string, keep ...string) ([]string, error) {
	list, err := in.Kube.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	kept := map[string]bool{}
	for _, k := range keep {
		kept[k] = true
	}
	var scaled []string
	for _, d := range list.Items {
		if kept[d.Name] || (d.Spec.Replicas != nil && *d.Spec.Replicas == 0) {
			continue
		}
		_, err := in.Kube.AppsV1().Deployments(namespace).Patch(ctx, d.Name, types.MergePatchType, []byte(`{"spec":{"replicas":0}}`),
			metav1.PatchOptions{FieldManager: apply.FieldManager})
		if err != nil {
			return scaled, fmt.Errorf("scaling %s/%s to zero: %w", namespace, d.Name, err)
		}
		scaled = append(scaled, d.Name)
	}
	sort.Strings(scaled)
	if len(scaled) > 0 {
		in.logf("chatqna light profile: scaled to zero what the values left running: %v", scaled)
	}
	return scaled, nil
}

// DropSidecars moves a namespace's workloads off their sidecars, for
// ambient mode: istio-cni never redirects a pod that already has an
// istio-proxy container, and relabelling a namespace restarts nothing, so a
// namespace that ran in sidecar mode (a kept cluster, a user's cluster)
// keeps its sidecars until its deployments restart. It restarts every
// deployment that owns a running pod with istio-proxy, then waits until no
// running pod of the namespace has one. It returns the restarted
// deployments.
func DropSidecars(ctx context.Context, kube kubernetes.Interface, namespace string, limit time.Duration) ([]string, error) {
	pods, err := kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	deployments, err := kube.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var restarted []string
	for _, d := range deployments.Items {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil {
			return restarted, err
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil && sel.Matches(labels.Set(p.Labels)) && ready.HasContainer(&p, "istio-proxy") {
				if err := Restart(ctx, kube, namespace, d.Name); err != nil {
					return restarted, err
				}
				restarted = append(restarted, d.Name)
				break
			}
		}
	}
	if len(restarted) == 0 {
		return nil, nil
	}
	return restarted, ready.NoPodWithContainer(ctx, kube, namespace, "istio-proxy", limit)
}

// CheckClaimBound is the premise of mounting a claim: it exists and is
// Bound (or Pending under a WaitForFirstConsumer StorageClass, as kind's
// standard class is: it binds when a pod uses it), or every pod that
// mounts it stays Pending until the install times out.
func CheckClaimBound(ctx context.Context, kube kubernetes.Interface, namespace, name string) error {
	pvc, err := kube.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("PersistentVolumeClaim %s/%s (--chatqna-model-pvc): %w; create it before the run, or drop the option to let each pod download its model", namespace, name, err)
	}
	if pvc.Status.Phase == corev1.ClaimPending && waitsForConsumer(ctx, kube, pvc) {
		return nil // it binds when the first model pod uses it
	}
	if pvc.Status.Phase != corev1.ClaimBound {
		return fmt.Errorf("PersistentVolumeClaim %s/%s (--chatqna-model-pvc) is %s, not Bound: the model pods would stay Pending; bind it first (a StorageClass or a PersistentVolume that matches it)", namespace, name, pvc.Status.Phase)
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

// waitsForConsumer tells whether a claim's StorageClass (or the default
// one) binds only when a pod uses the claim.
func waitsForConsumer(ctx context.Context, kube kubernetes.Interface, pvc *corev1.PersistentVolumeClaim) bool {
	name := ""
	if pvc.Spec.StorageClassName != nil {
		name = *pvc.Spec.StorageClassName
	}
	classes, err := kube.StorageV1().StorageClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return false
	}
	for _, c := range classes.Items {
		isDefault := c.Annotations["storageclass.kubernetes.io/is-default-class"] == "true"
		if (c.Name == name || (name == "" && isDefault)) && c.VolumeBindingMode != nil {
			return *c.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer
		}
	}
	return false
}
