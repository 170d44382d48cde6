//go:build lab

package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	kindconfig "github.com/secure-inference/mesh-conformance/kind-config"
	"github.com/secure-inference/mesh-conformance/tests/apply"
	"github.com/secure-inference/mesh-conformance/tests/cluster"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

// ownCluster is a kind cluster of a test's own, for a control plane whose
// webhooks or CNI would change how every later pod of the shared lab
// cluster is admitted or wired (Istio's, Knative's): created from the
// lab's kind config with the test's image archives loaded, reused by the
// test's subtests, deleted at the end (MC_LAB_KEEP=1 keeps it) and checked
// for leaked containers.
type ownCluster struct {
	name       string
	kubeconfig string
	rest       *rest.Config
	kube       kubernetes.Interface
	applier    *apply.Applier
}

func newOwnCluster(ctx context.Context, t *testing.T, name string, archives []string) *ownCluster {
	t.Helper()
	k := cluster.NewKind(name, os.Getenv("MC_LAB_NODE_IMAGE"), 5*time.Minute, logf)
	cfg := filepath.Join(t.TempDir(), "kind.yaml")
	data, _ := kindconfig.FS.ReadFile("lab.yaml")
	require.NoError(t, os.WriteFile(cfg, data, 0o644))
	t.Cleanup(func() {
		if os.Getenv("MC_LAB_KEEP") != "" {
			logf("cluster %s kept (MC_LAB_KEEP)", name)
			return
		}
		if err := k.Destroy(context.Background()); err != nil {
			t.Errorf("deleting %s: %v", name, err)
		}
		out, _ := exec.Command("docker", "ps", "-a", "-q", "--filter", "label=io.x-k8s.kind.cluster="+name).Output()
		if s := strings.TrimSpace(string(out)); s != "" {
			t.Errorf("LEAK: containers of %s remain: %s", name, s)
		}
	})
	start := time.Now()
	kubeconfig, err := k.CreateWithConfig(ctx, cfg)
	require.NoError(t, err)
	require.NoError(t, k.WaitForControlPlane(ctx))
	for _, a := range archives {
		require.NoError(t, k.LoadImageArchive(ctx, a))
	}
	logf("%s: cluster and %d image archives in %s", name, len(archives), time.Since(start).Round(time.Second))

	c := &ownCluster{name: name, kubeconfig: kubeconfig, rest: k.KubernetesRestConfig()}
	c.kube, err = kubernetes.NewForConfig(k.KubernetesRestConfig())
	require.NoError(t, err)
	c.applier, err = apply.New(k.KubernetesRestConfig())
	require.NoError(t, err)
	return c
}

// dump logs the state of a namespace's pods, with their last log lines,
// when a test failed: what a user would look at first.
func (c *ownCluster) dump(t *testing.T, namespace string) {
	if !t.Failed() {
		return
	}
	ctx := context.Background()
	pods, err := c.kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Logf("listing pods in %s: %v", namespace, err)
		return
	}
	tail := int64(30)
	for _, p := range pods.Items {
		t.Logf("pod %s/%s: %s ready=%v", namespace, p.Name, p.Status.Phase, ready.PodReady(&p))
		for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			t.Logf("  container %s (%s): ready=%v restarts=%d state=%s", cs.Name, cs.Image, cs.Ready, cs.RestartCount, containerState(cs.State))
			logs, err := c.kube.CoreV1().Pods(namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: cs.Name, TailLines: &tail}).DoRaw(ctx)
			if err == nil {
				t.Logf("  last log lines of %s:\n%s", cs.Name, logs)
			}
		}
	}
	evs, _ := c.kube.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{})
	for _, e := range evs.Items {
		if e.Type != corev1.EventTypeNormal {
			t.Logf("event %s %s: %s", e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
}

func containerState(s corev1.ContainerState) string {
	switch {
	case s.Running != nil:
		return "running"
	case s.Waiting != nil:
		return fmt.Sprintf("waiting (%s: %s)", s.Waiting.Reason, s.Waiting.Message)
	case s.Terminated != nil:
		return fmt.Sprintf("terminated (%s, exit %d: %s)", s.Terminated.Reason, s.Terminated.ExitCode, s.Terminated.Message)
	}
	return "unknown"
}

// runsImage checks that every pod of a selector runs a container from the
// override's hub: the lab's images, so the --image path is the one taken.
func (c *ownCluster) runsImage(ctx context.Context, t *testing.T, namespace, selector, hub string) {
	t.Helper()
	pods, err := c.kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	require.NoError(t, err)
	require.NotEmpty(t, pods.Items, "pods %s in %s", selector, namespace)
	for _, p := range pods.Items {
		for _, ct := range p.Spec.Containers {
			require.True(t, strings.HasPrefix(ct.Image, hub+"/"), "pod %s container %s runs %s, not an image from %s", p.Name, ct.Name, ct.Image, hub)
		}
	}
}
