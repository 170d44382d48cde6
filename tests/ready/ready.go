// Package ready waits, with a time limit, for workloads and resources to be
// ready, and says what was still missing when the limit passed.
package ready

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// interval between two looks at the cluster.
const interval = 2 * time.Second

// poll runs check until it reports done, an error, or limit passes; on
// timeout the error carries check's last account of what is missing, and
// the last API error only when there was never such an account (an error
// near the deadline, such as the client's rate limiter refusing to wait
// past it, says nothing about the workload).
func poll(ctx context.Context, limit time.Duration, what string, check func(ctx context.Context) (missing string, err error)) error {
	var missing, apiErr string
	err := wait.PollUntilContextTimeout(ctx, interval, limit, true, func(ctx context.Context) (bool, error) {
		m, err := check(ctx)
		if err != nil {
			apiErr = err.Error() // transient API errors are retried until the limit
			return false, nil
		}
		missing = m
		return m == "", nil
	})
	if err != nil {
		last := missing
		if last == "" {
			last = apiErr
		}
		return fmt.Errorf("%s not ready within %s: %s", what, limit, last)
	}
	return nil
}

// Deployments waits until every Deployment in namespace whose pods match
// selector ("" for all) has all its replicas updated and available. The
// selector is matched against the pod template's labels, which is where
// manifests put app=... (the Deployment's own labels are often empty).
func Deployments(ctx context.Context, kube kubernetes.Interface, namespace, selector string, limit time.Duration) error {
	sel, err := labels.Parse(selector)
	if err != nil {
		return fmt.Errorf("selector %q: %w", selector, err)
	}
	return poll(ctx, limit, "deployments in "+namespace, func(ctx context.Context) (string, error) {
		list, err := kube.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return "", err
		}
		var missing []string
		matched := 0
		for _, d := range list.Items {
			if !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				continue
			}
			matched++
			if !deploymentReady(&d) {
				missing = append(missing, fmt.Sprintf("%s (%d/%d available)", d.Name, d.Status.AvailableReplicas, replicas(d.Spec.Replicas)))
			}
		}
		if matched == 0 {
			return "no deployment runs pods matching " + orAll(selector), nil
		}
		return strings.Join(missing, ", "), nil
	})
}

func deploymentReady(d *appsv1.Deployment) bool {
	want := replicas(d.Spec.Replicas)
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want &&
		d.Status.AvailableReplicas == want && d.Status.Replicas == want
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// Condition waits until a resource has condition typ with status True.
func Condition(ctx context.Context, ri dynamic.ResourceInterface, name, typ string, limit time.Duration) error {
	return poll(ctx, limit, name, func(ctx context.Context) (string, error) {
		obj, err := ri.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		if ok, msg := hasCondition(obj, typ); !ok {
			return fmt.Sprintf("condition %s is not True: %s", typ, msg), nil
		}
		return "", nil
	})
}

func hasCondition(obj *unstructured.Unstructured, typ string) (bool, string) {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			return m["status"] == "True", fmt.Sprintf("%v %v", m["reason"], m["message"])
		}
	}
	return false, "not reported yet"
}

// Pod waits for a running, ready pod matching selector and returns it.
func Pod(ctx context.Context, kube kubernetes.Interface, namespace, selector string, limit time.Duration) (*corev1.Pod, error) {
	var found *corev1.Pod
	err := poll(ctx, limit, fmt.Sprintf("a pod %s in %s", selector, namespace), func(ctx context.Context) (string, error) {
		list, err := kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return "", err
		}
		for i := range list.Items {
			if PodReady(&list.Items[i]) {
				found = &list.Items[i]
				return "", nil
			}
		}
		return fmt.Sprintf("%d pods, none running and ready", len(list.Items)), nil
	})
	return found, err
}

// PodReady tells whether a pod is running, not terminating, and Ready.
func PodReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// HasContainer tells whether a pod runs a container (or a native sidecar
// init container, as Istio injects on recent Kubernetes) of that name.
func HasContainer(p *corev1.Pod, name string) bool {
	for _, c := range p.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range p.Spec.InitContainers {
		if c.Name == name && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			return true
		}
	}
	return false
}

// PodsWithContainer waits until every running pod matching selector carries
// the container, and at least one does: how the suite checks that a
// restart after labelling a namespace brought the sidecars in.
func PodsWithContainer(ctx context.Context, kube kubernetes.Interface, namespace, selector, container string, limit time.Duration) error {
	return poll(ctx, limit, fmt.Sprintf("pods %s in %s with container %s", orAll(selector), namespace, container), func(ctx context.Context) (string, error) {
		list, err := kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return "", err
		}
		var missing []string
		n := 0
		for i := range list.Items {
			p := &list.Items[i]
			if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			n++
			if !HasContainer(p, container) || !PodReady(p) {
				missing = append(missing, p.Name)
			}
		}
		if n == 0 {
			return "no pods yet", nil
		}
		if len(missing) > 0 {
			return "without a ready " + container + ": " + strings.Join(missing, ", "), nil
		}
		return "", nil
	})
}

func orAll(selector string) string {
	if selector == "" {
		return "(all)"
	}
	return selector
}

// DaemonSet waits until a DaemonSet has a ready, updated pod on every node
// it schedules to. Helm's own wait cannot be trusted for this: it allows
// maxUnavailable pods to be missing, which for istio-cni (maxUnavailable
// 1) on a one-node cluster means none at all.
func DaemonSet(ctx context.Context, kube kubernetes.Interface, namespace, name string, limit time.Duration) error {
	return poll(ctx, limit, "daemonset "+namespace+"/"+name, func(ctx context.Context) (string, error) {
		ds, err := kube.AppsV1().DaemonSets(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		st := ds.Status
		switch {
		case st.ObservedGeneration < ds.Generation:
			return "its controller has not seen the latest spec yet", nil
		case st.DesiredNumberScheduled == 0:
			return "no node to schedule to", nil
		case st.NumberReady != st.DesiredNumberScheduled || st.UpdatedNumberScheduled != st.DesiredNumberScheduled:
			return fmt.Sprintf("%d of %d pods ready, %d updated", st.NumberReady, st.DesiredNumberScheduled, st.UpdatedNumberScheduled), nil
		}
		return "", nil
	})
}

// PodsAnnotated waits until every running pod matching selector carries
// annotation key=value, and at least one does. istio-cni writes
// ambient.istio.io/redirection "pending" before "enabled", so one look can
// catch it half way.
func PodsAnnotated(ctx context.Context, kube kubernetes.Interface, namespace, selector, key, value string, limit time.Duration) error {
	return poll(ctx, limit, fmt.Sprintf("pods %s in %s with %s=%s", selector, namespace, key, value), func(ctx context.Context) (string, error) {
		list, err := kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return "", err
		}
		var missing []string
		running := 0
		for _, p := range list.Items {
			if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
				continue
			}
			running++
			if got := p.Annotations[key]; got != value {
				missing = append(missing, fmt.Sprintf("%s has %s=%q", p.Name, key, got))
			}
		}
		if running == 0 {
			return fmt.Sprintf("%d pods, none running", len(list.Items)), nil
		}
		return strings.Join(missing, ", "), nil
	})
}

// NoPodWithContainer waits until no running pod of a namespace has the
// container (a sidecar gone after its deployment restarted).
func NoPodWithContainer(ctx context.Context, kube kubernetes.Interface, namespace, container string, limit time.Duration) error {
	return poll(ctx, limit, "pods in "+namespace+" without "+container, func(ctx context.Context) (string, error) {
		list, err := kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return "", err
		}
		var with []string
		for i := range list.Items {
			if p := &list.Items[i]; p.Status.Phase == corev1.PodRunning && HasContainer(p, container) {
				with = append(with, p.Name)
			}
		}
		if len(with) > 0 {
			return "still with " + container + ": " + strings.Join(with, ", "), nil
		}
		return "", nil
	})
}
