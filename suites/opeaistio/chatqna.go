package opeaistio

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/secure-inference/mesh-conformance/tests/apply"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

// What this suite knows of OPEA ChatQnA: its names, how its chart is
// installed for a profile, the premise of its model claim, and the
// restarts that enroll it in sidecar mode. Its chart is installed here,
// not in tests/install, because no other suite runs it.

// ChatQnA names.
const (
	ChatQnANamespace = "chatqna"
	ChatQnANginx     = "chatqna-nginx"
)

// installChatQnA installs the ChatQnA chart with the given values. For the
// light profile it does not let Helm wait (model servers would never be
// ready on a small node): it scales every other deployment to zero,
// reports which ones the values had not already stopped, and waits for
// chatqna-nginx.
func installChatQnA(ctx context.Context, in *install.Installer, profile options.Profile, values map[string]any, keep ...string) (scaled []string, err error) {
	r := in.NewRelease("chatqna", ChatQnANamespace,
		install.ChartRef{Source: in.Opts.ChartSource("chatqna"), Name: "chatqna", Version: in.Versions.ChatQnA}, values)
	r.Wait = in.Wait && profile == options.ProfileFull
	if _, err := in.Helm.Upgrade(ctx, r); err != nil {
		return nil, err
	}
	if profile == options.ProfileLight {
		if scaled, err = scaleToZeroExcept(ctx, in.Kube, ChatQnANamespace, append([]string{ChatQnANginx}, keep...)...); err != nil {
			return scaled, err
		}
		if len(scaled) > 0 && in.Logf != nil {
			in.Logf("chatqna light profile: scaled to zero what the values left running: %v", scaled)
		}
	}
	if in.Wait {
		err = ready.Deployments(ctx, in.Kube, ChatQnANamespace, "app="+ChatQnANginx, in.Opts.Timeouts.ReadyTimeout)
	}
	return scaled, err
}

// scaleToZeroExcept scales every deployment of a namespace but keep to
// zero replicas and returns the ones it had to change.
func scaleToZeroExcept(ctx context.Context, kube kubernetes.Interface, namespace string, keep ...string) ([]string, error) {
	list, err := kube.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
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
		_, err := kube.AppsV1().Deployments(namespace).Patch(ctx, d.Name, types.MergePatchType, []byte(`{"spec":{"replicas":0}}`),
			metav1.PatchOptions{FieldManager: apply.FieldManager})
		if err != nil {
			return scaled, fmt.Errorf("scaling %s/%s to zero: %w", namespace, d.Name, err)
		}
		scaled = append(scaled, d.Name)
	}
	sort.Strings(scaled)
	return scaled, nil
}

// restartRunning restarts every deployment of a namespace that runs pods:
// in sidecar mode, so that they get their sidecars.
func restartRunning(ctx context.Context, kube kubernetes.Interface, namespace string) error {
	list, err := kube.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, d := range list.Items {
		if d.Spec.Replicas != nil && *d.Spec.Replicas == 0 {
			continue
		}
		if err := install.Restart(ctx, kube, namespace, d.Name); err != nil {
			return err
		}
	}
	return nil
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
