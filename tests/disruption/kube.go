package disruption

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/secure-inference/mesh-conformance/tests/ready"
)

// pollInterval is how often a wait looks at the cluster: a disruption's
// phases are measured in rounds of about a second, so looks every second
// keep the phase boundaries close to what happened.
const pollInterval = time.Second

// ScaleToZero takes a Deployment away: Take records its replicas and
// scales it to zero, Gone waits until none of its pods is left, Restore
// scales it back to what it had (at least 1) and waits until it is
// available. limit bounds each wait.
func ScaleToZero(kube kubernetes.Interface, name, namespace, deployment string, limit time.Duration) Disruption {
	var original *int32 // what Take found, for Restore
	var selector string
	return Disruption{
		Name: name,
		What: fmt.Sprintf("Deployment %s/%s scaled to zero, then back", namespace, deployment),
		Take: func(ctx context.Context) error {
			d, err := kube.AppsV1().Deployments(namespace).Get(ctx, deployment, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if d.Spec.Selector == nil {
				return fmt.Errorf("deployment %s/%s has no selector", namespace, deployment)
			}
			selector = metav1.FormatLabelSelector(d.Spec.Selector)
			if original == nil { // a second Take must not record the zero
				n := int32(1)
				if d.Spec.Replicas != nil && *d.Spec.Replicas > 0 {
					n = *d.Spec.Replicas
				}
				original = &n
			}
			return scale(ctx, kube, namespace, deployment, 0)
		},
		Gone: func(ctx context.Context) error {
			return noPods(ctx, kube, namespace, selector, nil, limit)
		},
		Restore: func(ctx context.Context) error {
			if original == nil {
				return nil // never taken
			}
			if err := scale(ctx, kube, namespace, deployment, *original); err != nil {
				return err
			}
			sel, err := podTemplateSelector(ctx, kube, namespace, deployment)
			if err != nil {
				return err
			}
			return ready.Deployments(ctx, kube, namespace, sel, limit)
		},
	}
}

// podTemplateSelector is a selector that matches the Deployment's pod
// template labels alone (ready.Deployments matches against them). An
// error, not an empty selector: that would wait on every Deployment of
// the namespace.
func podTemplateSelector(ctx context.Context, kube kubernetes.Interface, namespace, deployment string) (string, error) {
	d, err := kube.AppsV1().Deployments(namespace).Get(ctx, deployment, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("reading deployment %s/%s to wait for it: %w", namespace, deployment, err)
	}
	return labels.SelectorFromSet(d.Spec.Template.Labels).String(), nil
}

func scale(ctx context.Context, kube kubernetes.Interface, namespace, deployment string, replicas int32) error {
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas)
	_, err := kube.AppsV1().Deployments(namespace).Patch(ctx, deployment, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("scaling deployment %s/%s to %d: %w", namespace, deployment, replicas, err)
	}
	return nil
}

// RestartPods deletes a workload's pods so that its controller starts new
// ones: in sidecar mode the new pods' sidecars start cold (no
// configuration from istiod yet). Gone waits until the deleted pods are
// gone, Restore until the workload's Deployments are available again.
func RestartPods(kube kubernetes.Interface, name, namespace, selector string, limit time.Duration) Disruption {
	deleted := map[types.UID]bool{}
	return Disruption{
		Name: name,
		What: fmt.Sprintf("pods %s in %s deleted, so that new ones start with a cold sidecar", selector, namespace),
		Take: func(ctx context.Context) error {
			return deletePods(ctx, kube, namespace, selector, nil, deleted)
		},
		Gone: func(ctx context.Context) error { return noPods(ctx, kube, namespace, selector, deleted, limit) },
		Restore: func(ctx context.Context) error {
			return ready.Deployments(ctx, kube, namespace, selector, limit)
		},
	}
}

// RestartNodeProxy deletes the ztunnel pods (istio-system, app=ztunnel) on
// the nodes that run the target's pods: ambient's node proxy restarts
// under the target. Gone waits until those pods are gone, Restore until
// the DaemonSet is ready on every node again.
func RestartNodeProxy(kube kubernetes.Interface, name, targetNamespace, targetSelector string, limit time.Duration) Disruption {
	const ns, sel, ds = "istio-system", "app=ztunnel", "ztunnel"
	deleted := map[types.UID]bool{}
	return Disruption{
		Name: name,
		What: fmt.Sprintf("ztunnel pods on the nodes of %s in %s deleted (DaemonSet %s/%s restarts them)", targetSelector, targetNamespace, ns, ds),
		Take: func(ctx context.Context) error {
			targets, err := kube.CoreV1().Pods(targetNamespace).List(ctx, metav1.ListOptions{LabelSelector: targetSelector})
			if err != nil {
				return err
			}
			nodes := map[string]bool{}
			for _, p := range targets.Items {
				if p.Spec.NodeName != "" {
					nodes[p.Spec.NodeName] = true
				}
			}
			if len(nodes) == 0 {
				return fmt.Errorf("no scheduled pod %s in %s: no node whose ztunnel to restart", targetSelector, targetNamespace)
			}
			return deletePods(ctx, kube, ns, sel, nodes, deleted)
		},
		Gone:    func(ctx context.Context) error { return noPods(ctx, kube, ns, sel, deleted, limit) },
		Restore: func(ctx context.Context) error { return ready.DaemonSet(ctx, kube, ns, ds, limit) },
	}
}

// deletePods deletes the pods matching selector (on nodes, when given) and
// remembers their UIDs in deleted; finding none is an error: nothing would
// be disrupted.
func deletePods(ctx context.Context, kube kubernetes.Interface, namespace, selector string, nodes map[string]bool, deleted map[types.UID]bool) error {
	list, err := kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return err
	}
	n := 0
	for _, p := range list.Items {
		if nodes != nil && !nodes[p.Spec.NodeName] {
			continue
		}
		if err := kube.CoreV1().Pods(namespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
			return fmt.Errorf("deleting pod %s/%s: %w", namespace, p.Name, err)
		}
		deleted[p.UID] = true
		n++
	}
	if n == 0 {
		return fmt.Errorf("no pod %s in %s to delete", selector, namespace)
	}
	return nil
}

// noPods waits until no pod matching selector is left (only those in
// uids, when given: a workload's new pods may already be starting).
func noPods(ctx context.Context, kube kubernetes.Interface, namespace, selector string, uids map[types.UID]bool, limit time.Duration) error {
	var left []string
	err := wait.PollUntilContextTimeout(ctx, pollInterval, limit, true, func(ctx context.Context) (bool, error) {
		list, err := kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, nil // retried until the limit
		}
		left = left[:0]
		for _, p := range list.Items {
			if uids == nil || uids[p.UID] {
				left = append(left, p.Name+" ("+string(phaseOf(p))+")")
			}
		}
		return len(left) == 0, nil
	})
	if err != nil {
		sort.Strings(left)
		return fmt.Errorf("pods %s in %s still there after %s: %s", selector, namespace, limit, strings.Join(left, ", "))
	}
	return nil
}

func phaseOf(p corev1.Pod) corev1.PodPhase {
	if p.DeletionTimestamp != nil {
		return "Terminating"
	}
	return p.Status.Phase
}
