package install

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/secure-inference/mesh-conformance/tests/apply"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

// Enrolling a namespace in the mesh, in either mode, and the restarts that
// make a label take effect on running pods. Which namespaces, and when,
// is each suite's (suites/*/): these are Istio's mechanics only.

// Mesh enrollment labels.
const (
	InjectionLabel    = "istio-injection"
	DataplaneLabel    = "istio.io/dataplane-mode"
	AmbientRedirected = "ambient.istio.io/redirection"
)

// Enroll labels a namespace for the mesh in a mode (sidecar injection, or
// ambient), removing the other mode's label, and reports whether anything
// changed.
func Enroll(ctx context.Context, kube kubernetes.Interface, namespace string, mode dataplane.Mode) (bool, error) {
	ns, err := kube.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		ns, err = kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{})
	}
	if err != nil {
		return false, fmt.Errorf("namespace %s: %w", namespace, err)
	}
	want, drop := map[string]string{InjectionLabel: "enabled"}, DataplaneLabel
	if mode == dataplane.Ambient {
		want, drop = map[string]string{DataplaneLabel: "ambient"}, InjectionLabel
	}
	labels := ns.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	changed := false
	for k, v := range want {
		if labels[k] != v {
			labels[k], changed = v, true
		}
	}
	if _, ok := labels[drop]; ok {
		delete(labels, drop)
		changed = true
	}
	if !changed {
		return false, nil
	}
	ns.Labels = labels
	if _, err := kube.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{FieldManager: apply.FieldManager}); err != nil {
		return false, fmt.Errorf("labelling namespace %s for %s mode: %w", namespace, mode, err)
	}
	return true, nil
}

// CheckEnrolled checks that a namespace carries the label of a mode.
func CheckEnrolled(ctx context.Context, kube kubernetes.Interface, namespace string, mode dataplane.Mode) error {
	ns, err := kube.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	if err != nil {
		return err
	}
	key, val := InjectionLabel, "enabled"
	if mode == dataplane.Ambient {
		key, val = DataplaneLabel, "ambient"
	}
	if ns.Labels[key] != val {
		return fmt.Errorf("namespace %s is not enrolled in %s mode: label %s=%q, want %q", namespace, mode, key, ns.Labels[key], val)
	}
	return nil
}

// PodsEnrolled checks that a namespace's pods of a selector are in the
// mesh of a mode: a sidecar each, or (ambient) istio-cni's redirection to
// ztunnel, polled within limit since istio-cni marks a pod "pending" before
// "enabled".
func PodsEnrolled(ctx context.Context, kube kubernetes.Interface, namespace, selector string, mode dataplane.Mode, limit time.Duration) error {
	if mode == dataplane.Sidecar {
		return ready.PodsWithContainer(ctx, kube, namespace, selector, "istio-proxy", limit)
	}
	if err := ready.PodsAnnotated(ctx, kube, namespace, selector, AmbientRedirected, "enabled", limit); err != nil {
		return fmt.Errorf("istio-cni did not redirect the pods to ztunnel: %w", err)
	}
	return nil
}

// Restart rolls a deployment, as kubectl rollout restart does.
func Restart(ctx context.Context, kube kubernetes.Interface, namespace, name string) error {
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`, time.Now().Format(time.RFC3339Nano))
	_, err := kube.AppsV1().Deployments(namespace).Patch(ctx, name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: apply.FieldManager})
	if err != nil {
		return fmt.Errorf("restarting deployment %s/%s: %w", namespace, name, err)
	}
	return nil
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
