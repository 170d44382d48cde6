//go:build apiserver

package apiserver_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/suites/kservemesh"
	"github.com/secure-inference/mesh-conformance/suites/opeaistio"
	"github.com/secure-inference/mesh-conformance/tests/apiserver"
	"github.com/secure-inference/mesh-conformance/tests/apply"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/detect"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/upstream"
)

// The installers run for real against their own fresh API server (the
// charts bring their own CRDs, which must not exist beforehand), with chart
// sources given as options and pointing at the charts inside the pinned Go
// modules. Readiness waits are off: nothing runs pods here.

func moduleDir(t *testing.T, module, version string) string {
	t.Helper()
	dir, err := upstream.ModuleDir(module, version)
	require.NoError(t, err)
	return dir
}

func knativeOperatorChart(t *testing.T, release string) string {
	dir, err := upstream.KnativeOperatorChart(release, t.TempDir())
	require.NoError(t, err)
	return dir
}

// freshServer starts an API server of the test's own (installs bring CRDs
// that must not exist beforehand), stopped at the test's end, and returns
// it with its kubeconfig file.
func freshServer(t *testing.T) (*apiserver.Server, string) {
	t.Helper()
	srv, err := apiserver.Start(os.Getenv(apiserver.BinDirEnv))
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	kubeconfig, err := srv.WriteKubeconfig()
	require.NoError(t, err)
	return srv, kubeconfig
}

func TestInstallersAgainstAPIServer(t *testing.T) {
	ctx := context.Background()
	srv, kubeconfig := freshServer(t)
	a, err := apply.New(srv.Config)
	require.NoError(t, err)
	kc, err := kubernetes.NewForConfig(srv.Config)
	require.NoError(t, err)

	// KServe's chart issues its webhook certificate with cert-manager.
	crds, err := upstream.LoadCRDs(upstream.OfModule(upstream.CRDSources(kservemesh.Versions, opeaistio.Versions), "github.com/cert-manager/cert-manager"))
	require.NoError(t, err)
	require.NoError(t, a.Apply(ctx, crds...))
	require.NoError(t, a.WaitEstablished(ctx, time.Minute, crds...))

	v := kservemesh.Versions
	opts := options.Defaults()
	opts.ChartSources = map[string]string{
		"istio":   filepath.Join(moduleDir(t, "istio.io/istio", upstream.IstioModuleVersion), "manifests", "charts"),
		"kserve":  filepath.Join(moduleDir(t, "github.com/kserve/kserve", v.KServe), "charts"),
		"knative": knativeOperatorChart(t, v.KnativeServing),
	}
	require.NoError(t, opts.Validate())
	// The suites' own values (fixtures/<suite>/): KServe's first, the OPEA
	// suite's for its ambient Istio below.
	in := &install.Installer{Kube: kc, Apply: a, Opts: opts, Versions: v, Suite: "kservemesh", Wait: false, Logf: t.Logf,
		Helm: &install.Helm{Kubeconfig: kubeconfig, Logf: t.Logf}}

	t.Run("istio sidecar with the KServe gateway", func(t *testing.T) {
		require.NoError(t, in.Istio(ctx, dataplane.Sidecar, kservemesh.IstioGateway))
		gw, err := kc.AppsV1().Deployments("istio-system").Get(ctx, "istio-ingressgateway", metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, "ingressgateway", gw.Spec.Template.Labels["istio"], "net-istio's gateways select istio=ingressgateway")
		_, err = kc.AppsV1().Deployments("istio-system").Get(ctx, "istiod", metav1.GetOptions{})
		require.NoError(t, err)

		// This shape (sidecar Istio with the KServe gateway) asked for by
		// the OPEA suite in ambient mode with --install=none: the plan
		// stops on what is missing, before anything is touched.
		found, err := detect.Detect(ctx, kc, a.Dynamic, detect.Workload{Namespace: opeaistio.IstioGateway.Namespace, Name: opeaistio.IstioGateway.Name})
		require.NoError(t, err)
		steps := detect.Plan(found, detect.IstioParts(true), func(string) detect.Policy { return detect.None })
		assert.Equal(t, []string{detect.IstioGateway, detect.IstioCNI, detect.Ztunnel}, detect.MissingComponents(steps))
		found, err = detect.Detect(ctx, kc, a.Dynamic, detect.Workload{Namespace: kservemesh.IstioGateway.Namespace, Name: kservemesh.IstioGateway.Name})
		require.NoError(t, err)
		steps = detect.Plan(found, detect.IstioParts(false), func(string) detect.Policy { return detect.None })
		assert.Empty(t, detect.MissingComponents(steps), "the KServe suite finds all it needs")
	})

	t.Run("istio ambient with the OPEA gateway, upgrading istiod", func(t *testing.T) {
		in.Suite = "opeaistio"
		defer func() { in.Suite = "kservemesh" }()
		require.NoError(t, in.Istio(ctx, dataplane.Ambient, opeaistio.IstioGateway))
		for _, ds := range []string{"istio-cni-node", "ztunnel"} {
			_, err := kc.AppsV1().DaemonSets("istio-system").Get(ctx, ds, metav1.GetOptions{})
			assert.NoError(t, err, ds)
		}
		svc, err := kc.CoreV1().Services("istio-ingress").Get(ctx, "istio-ingress", metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, "NodePort", string(svc.Spec.Type))
		nodePorts := map[string]int32{}
		for _, p := range svc.Spec.Ports {
			nodePorts[p.Name] = p.NodePort
		}
		assert.Equal(t, int32(30080), nodePorts["http2"])
		assert.Equal(t, int32(30443), nodePorts["https"])
		assert.Equal(t, int32(30021), nodePorts["status-port"], "every port pinned: none draws 30443 at random")
		gw, err := kc.AppsV1().Deployments("istio-ingress").Get(ctx, "istio-ingress", metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, "istio-ingress", gw.Spec.Template.Labels["app"], "the OPEA Gateway selects app=istio-ingress")
		// Idempotent: the same install again upgrades in place.
		require.NoError(t, in.Istio(ctx, dataplane.Ambient, opeaistio.IstioGateway))
	})

	t.Run("kserve and the ingress config merge", func(t *testing.T) {
		// No webhook pod runs here: once kserve-resources registers KServe's
		// webhooks, point them at a local server that admits everything.
		// The runtime release meets them first without endpoints, which
		// the installer retries, then admitted.
		hook, err := apiserver.NewWebhook()
		require.NoError(t, err)
		require.NoError(t, hook.Start())
		t.Cleanup(hook.Stop)
		done := make(chan struct{})
		redirected := make(chan int, 1)
		go func() {
			total := 0
			defer func() { redirected <- total }()
			for {
				select {
				case <-done:
					return
				case <-time.After(3 * time.Second):
				}
				n, _ := hook.Redirect(ctx, kc, install.KServeNamespace, "kserve-webhook-server-service")
				total += n
			}
		}()
		err = in.KServe(ctx)
		close(done)
		require.NoError(t, err)
		t.Logf("KServe webhooks redirected to the tier's server: %d", <-redirected)
		assert.Positive(t, hook.Calls(kservemesh.SklearnRuntime), "the runtime went through KServe's validating webhook")
		// The runtimes are there (kserve.servingruntime.enabled), so the
		// InferenceServices' premise holds: a regression in the runtime
		// chart's values fails here, not on a user's first run.
		rts, err := a.Dynamic.Resource(kservemesh.ClusterServingRuntimes).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		var names []string
		for _, rt := range rts.Items {
			names = append(names, rt.GetName())
		}
		assert.Contains(t, names, kservemesh.SklearnRuntime, "ClusterServingRuntimes installed: %v", names)
		require.NoError(t, kservemesh.CheckRuntime(ctx, a.Dynamic, kservemesh.SklearnRuntime))
		assert.ErrorContains(t, kservemesh.CheckRuntime(ctx, a.Dynamic, "kserve-no-such-runtime"), "kserve.servingruntime.enabled=true")

		// The chart's values set disableIstioVirtualHost, so the ConfigMap
		// Helm owns carries it (and a rerun's helm upgrade renders it
		// again, never false): the setup step's check passes on it.
		require.NoError(t, kservemesh.CheckIstioVirtualHostDisabled(ctx, kc))
		cm, err := kc.CoreV1().ConfigMaps(install.KServeNamespace).Get(ctx, install.KServeConfigMap, metav1.GetOptions{})
		require.NoError(t, err)
		ingress := map[string]any{}
		require.NoError(t, json.Unmarshal([]byte(cm.Data[install.KServeIngressKey]), &ingress))
		require.NotEmpty(t, ingress["ingressGateway"])
		assert.Equal(t, true, ingress["disableIstioVirtualHost"])
	})

	t.Run("knative operator and KnativeServing", func(t *testing.T) {
		require.NoError(t, in.KnativeOperator(ctx))
		objs, err := fixtures.Load("kservemesh/knative-serving.yaml")
		require.NoError(t, err)
		require.NoError(t, in.KnativeServing(ctx, objs))
		ks, err := a.Dynamic.Resource(schema.GroupVersionResource{Group: "operator.knative.dev", Version: "v1beta1", Resource: "knativeservings"}).
			Namespace("knative-serving").Get(ctx, "knative-serving", metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, v.KnativeServing, ks.Object["spec"].(map[string]any)["version"])
	})

	t.Run("detection sees what the installs left behind", func(t *testing.T) {
		found, err := detect.Detect(ctx, kc, a.Dynamic, detect.Workload{Namespace: opeaistio.IstioGateway.Namespace, Name: opeaistio.IstioGateway.Name})
		require.NoError(t, err)
		byName := map[string]detect.Found{}
		for _, f := range found {
			byName[f.Component] = f
		}
		assert.True(t, byName[detect.Istio].Installed)
		assert.Contains(t, byName[detect.Istio].Detail, "ambient available (ztunnel present)")
		for _, part := range detect.IstioParts(true) {
			assert.True(t, byName[part].Installed, "%s found after the ambient install", part)
		}
		assert.True(t, byName[detect.KServe].Installed)
		assert.Equal(t, v.KServe, byName[detect.KServe].Version, "from the controller image tag")
		// CRDs without workloads are not an installation: cert-manager's
		// CRDs are here, its deployment is not; the Knative operator never
		// ran, so there is no activator.
		assert.False(t, byName[detect.CertManager].Installed)
		assert.False(t, byName[detect.Knative].Installed)
		assert.False(t, byName[detect.GatewayAPI].Installed)
		steps := detect.Plan(found, []string{detect.Istio, detect.CertManager}, func(string) detect.Policy { return detect.Missing })
		assert.False(t, steps[0].Install, "found Istio is left alone with --install=missing")
		assert.True(t, steps[1].Install)
		t.Logf("plan:\n%s", detect.Describe(steps))
	})

	t.Run("namespace enrollment labels", func(t *testing.T) {
		for _, mode := range []dataplane.Mode{dataplane.Sidecar, dataplane.Ambient, dataplane.Sidecar} {
			changed, err := install.Enroll(ctx, kc, "chatqna", mode)
			require.NoError(t, err)
			assert.True(t, changed)
			require.NoError(t, install.CheckEnrolled(ctx, kc, "chatqna", mode))
			ns, err := kc.CoreV1().Namespaces().Get(ctx, "chatqna", metav1.GetOptions{})
			require.NoError(t, err)
			if mode == dataplane.Sidecar {
				assert.NotContains(t, ns.Labels, install.DataplaneLabel, "one mode at a time")
			} else {
				assert.NotContains(t, ns.Labels, install.InjectionLabel, "one mode at a time")
			}
		}
		changed, err := install.Enroll(ctx, kc, "chatqna", dataplane.Sidecar)
		require.NoError(t, err)
		assert.False(t, changed, "idempotent")
		assert.Error(t, install.CheckEnrolled(ctx, kc, "chatqna", dataplane.Ambient))
	})
}
