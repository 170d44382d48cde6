//go:build lab

package lab

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secure-inference/mesh-conformance/suites/opeaistio"
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
	*ownCluster
	in *install.Installer
}

func newIstioLab(ctx context.Context, t *testing.T) *istioLab {
	t.Helper()
	ref, archives := os.Getenv("MC_LAB_ISTIO_IMAGE"), os.Getenv("MC_LAB_ISTIO_IMAGES")
	if ref == "" || archives == "" {
		t.Fatal("MC_LAB_ISTIO_IMAGE and MC_LAB_ISTIO_IMAGES are not set: run scripts/lab.sh, which builds istiod and istio-cni")
	}
	charts, err := upstream.ModuleDir("istio.io/istio", upstream.IstioModuleVersion)
	require.NoError(t, err, "the Istio charts come from the istio.io/istio module the binaries were built from")

	l := &istioLab{ownCluster: newOwnCluster(ctx, t, "mc-lab-istio", strings.Split(archives, ","))}

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
		Helm: &install.Helm{Kubeconfig: l.kubeconfig, Context: "kind-mc-lab-istio", Logf: logf}}
	return l
}

// The real Istio control plane, installed by the suites' own installer
// (Installer.Istio, the path make e2e takes) with the real Helm wait and
// the explicit DaemonSet wait: istiod in sidecar mode, then the upgrade to
// ambient with istio-cni. The charts and binaries are istio.io/istio
// master at upstream.IstioModuleVersion (the charts' version is a 1.0.0
// placeholder; the suites pin 1.27.1 for real clusters).
func TestRealIstioControlPlane(t *testing.T) {
	// A cluster of its own: it runs beside the other parallel tests
	// (lab_test.go), which touch no cluster of its.
	t.Parallel()
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
