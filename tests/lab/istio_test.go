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

	kindconfig "github.com/secure-inference/mesh-conformance/kind-config"
	"github.com/secure-inference/mesh-conformance/suites/opeaistio"
	"github.com/secure-inference/mesh-conformance/tests/apply"
	"github.com/secure-inference/mesh-conformance/tests/cluster"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/detect"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/ready"
	"github.com/secure-inference/mesh-conformance/tests/upstream"
)

// leftOut are the Istio parts no lab can run, and why: the installer's
// Skip leaves them out (and says so); every other release gets its Helm
// wait and, for DaemonSets, the explicit wait.
var leftOut = map[string]string{
	detect.IstioGateway: "the gateway runs Envoy (proxyv2), which is C++/Bazel and not buildable here",
	detect.Ztunnel:      "ztunnel is Rust and not buildable here",
}

// istioLab is a kind cluster of its own for the real Istio control plane:
// istiod's webhooks and istio-cni's CNI chaining would change how every
// later pod of the shared lab cluster is admitted and wired.
type istioLab struct {
	kube    kubernetes.Interface
	applier *apply.Applier
	in      *install.Installer
}

func newIstioLab(ctx context.Context, t *testing.T) *istioLab {
	t.Helper()
	ref, archives := os.Getenv("MC_LAB_ISTIO_IMAGE"), os.Getenv("MC_LAB_ISTIO_IMAGES")
	if ref == "" || archives == "" {
		t.Fatal("MC_LAB_ISTIO_IMAGE and MC_LAB_ISTIO_IMAGES are not set: run scripts/lab.sh, which builds istiod and istio-cni")
	}
	charts, err := upstream.ModuleDir("istio.io/istio", upstream.IstioModuleVersion)
	require.NoError(t, err, "the Istio charts come from the istio.io/istio module the binaries were built from")

	k := cluster.NewKind("mc-lab-istio", os.Getenv("MC_LAB_NODE_IMAGE"), 5*time.Minute, logf)
	cfg := filepath.Join(t.TempDir(), "kind.yaml")
	data, _ := kindconfig.FS.ReadFile("lab.yaml")
	require.NoError(t, os.WriteFile(cfg, data, 0o644))
	t.Cleanup(func() {
		if os.Getenv("MC_LAB_KEEP") != "" {
			logf("cluster mc-lab-istio kept (MC_LAB_KEEP)")
			return
		}
		if err := k.Destroy(context.Background()); err != nil {
			t.Errorf("deleting mc-lab-istio: %v", err)
		}
		out, _ := exec.Command("docker", "ps", "-a", "-q", "--filter", "label=io.x-k8s.kind.cluster=mc-lab-istio").Output()
		if s := strings.TrimSpace(string(out)); s != "" {
			t.Errorf("LEAK: containers of mc-lab-istio remain: %s", s)
		}
	})
	start := time.Now()
	kubeconfig, err := k.CreateWithConfig(ctx, cfg)
	require.NoError(t, err)
	require.NoError(t, k.WaitForControlPlane(ctx))
	for _, a := range strings.Split(archives, ",") {
		require.NoError(t, k.LoadImageArchive(ctx, a))
	}
	logf("istio lab: cluster and images in %s", time.Since(start).Round(time.Second))

	l := &istioLab{}
	l.kube, err = kubernetes.NewForConfig(k.KubernetesRestConfig())
	require.NoError(t, err)
	l.applier, err = apply.New(k.KubernetesRestConfig())
	require.NoError(t, err)

	// The run's options as a user with a mirror registry and a chart
	// mirror would give them: --chart-source istio=<charts>,
	// --image istio=<hub>:<tag>.
	opts := options.Defaults()
	opts.ChartSources["istio"] = filepath.Join(charts, "manifests", "charts")
	opts.Images["istio"] = ref
	opts.Timeouts.InstallTimeout, opts.Timeouts.ReadyTimeout = 5*time.Minute, 3*time.Minute
	require.NoError(t, opts.Validate())
	skip := map[string]bool{}
	for part, why := range leftOut {
		skip[part] = true
		logf("istio lab: leaving out %s: %s", part, why)
	}
	l.in = &install.Installer{Kube: l.kube, Apply: l.applier, Opts: opts, Versions: opeaistio.Versions, Suite: "opeaistio", Wait: true, Skip: skip, Logf: logf,
		Helm: &install.Helm{Kubeconfig: kubeconfig, Context: "kind-mc-lab-istio", Logf: logf}}
	return l
}

// dump logs the state of a namespace's pods, with their last log lines,
// when a test failed: what a user would look at first.
func (l *istioLab) dump(t *testing.T, namespace string) {
	if !t.Failed() {
		return
	}
	ctx := context.Background()
	pods, err := l.kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Logf("listing pods in %s: %v", namespace, err)
		return
	}
	tail := int64(30)
	for _, p := range pods.Items {
		t.Logf("pod %s/%s: %s ready=%v", namespace, p.Name, p.Status.Phase, ready.PodReady(&p))
		for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			t.Logf("  container %s (%s): ready=%v restarts=%d state=%s", cs.Name, cs.Image, cs.Ready, cs.RestartCount, containerState(cs.State))
			logs, err := l.kube.CoreV1().Pods(namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: cs.Name, TailLines: &tail}).DoRaw(ctx)
			if err == nil {
				t.Logf("  last log lines of %s:\n%s", cs.Name, logs)
			}
		}
	}
	evs, _ := l.kube.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{})
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
func (l *istioLab) runsImage(ctx context.Context, t *testing.T, namespace, selector, hub string) {
	t.Helper()
	pods, err := l.kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	require.NoError(t, err)
	require.NotEmpty(t, pods.Items, "pods %s in %s", selector, namespace)
	for _, p := range pods.Items {
		for _, c := range p.Spec.Containers {
			require.True(t, strings.HasPrefix(c.Image, hub+"/"), "pod %s container %s runs %s, not an image from %s", p.Name, c.Name, c.Image, hub)
		}
	}
}

// The real Istio control plane, installed by the suites' own installer
// (Installer.Istio, the path make e2e takes) with the real Helm wait and
// the explicit DaemonSet wait: istiod in sidecar mode, then the upgrade to
// ambient with istio-cni. The charts and binaries are istio.io/istio
// master at upstream.IstioModuleVersion (the charts' version is a 1.0.0
// placeholder; the suites pin 1.27.1 for real clusters).
func TestRealIstioControlPlane(t *testing.T) {
	ctx := context.Background()
	l := newIstioLab(ctx, t)
	t.Cleanup(func() { l.dump(t, "istio-system") })
	hub, _ := options.SplitImageRef(l.in.Opts.Images["istio"])
	logf("istio lab: istio.io/istio %s (master; charts carry a 1.0.0 placeholder version), images from %s", upstream.IstioModuleVersion, l.in.Opts.Images["istio"])

	t.Run("sidecar", func(t *testing.T) {
		start := time.Now()
		require.NoError(t, l.in.Istio(ctx, dataplane.Sidecar, opeaistio.IstioGateway))
		require.NoError(t, ready.Deployments(ctx, l.kube, "istio-system", "app=istiod", time.Minute))
		l.runsImage(ctx, t, "istio-system", "app=istiod", hub)
		logf("istio lab: istiod Ready in sidecar mode, %s", time.Since(start).Round(time.Second))
	})
	t.Run("validation", func(t *testing.T) { l.checkValidation(ctx, t) })
	t.Run("injection", func(t *testing.T) { l.checkInjection(ctx, t) })
	t.Run("ambient", func(t *testing.T) {
		start := time.Now()
		require.NoError(t, l.in.Istio(ctx, dataplane.Ambient, opeaistio.IstioGateway))
		require.NoError(t, ready.Deployments(ctx, l.kube, "istio-system", "app=istiod", time.Minute))
		require.NoError(t, ready.DaemonSet(ctx, l.kube, "istio-system", "istio-cni-node", time.Minute))
		l.runsImage(ctx, t, "istio-system", "k8s-app=istio-cni-node", hub)
		// The upgrade took the ambient profile: istiod serves ambient.
		d, err := l.kube.AppsV1().Deployments("istio-system").Get(ctx, "istiod", metav1.GetOptions{})
		require.NoError(t, err)
		env := map[string]string{}
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			env[e.Name] = e.Value
		}
		require.Equal(t, "true", env["PILOT_ENABLE_AMBIENT"], "istiod's PILOT_ENABLE_AMBIENT after the ambient upgrade")
		logf("istio lab: istiod (ambient profile) and istio-cni Ready, %s", time.Since(start).Round(time.Second))
	})
}
