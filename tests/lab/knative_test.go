//go:build lab

package lab

import (
	"context"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/suites/kservemesh"
	"github.com/secure-inference/mesh-conformance/tests/coldstart"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/ready"
	"github.com/secure-inference/mesh-conformance/tests/upstream"
)

// knativeStandIns are the parts of Knative Serving's install the lab
// cannot build, and what stands in for them (docs/testing.md's tier
// table): the operator deploys them from its kodata like the rest.
var knativeStandIns = map[string]string{
	"net-istio-controller": "lab/cmd/netistio: marks KIngresses Ready with net-istio's load balancers, no VirtualServices, no gateway probe (knative.dev/net-istio is refused by the module proxy)",
	"net-istio-webhook":    "lab/cmd/netistio -webhook: TLS on 8443 for the probes; its webhook configurations keep no rules, so it is sent nothing",
}

// knativeDeployments are the deployments the operator (v0.48.1) makes for
// Serving 1.21.1 with net-istio: its kodata's, which
// TestKnativeRequestsAreTheOperatorsManifests counts too.
var knativeDeployments = []string{"activator", "autoscaler", "autoscaler-hpa", "controller", "net-istio-controller", "net-istio-webhook", "webhook"}

// knativeLab is a kind cluster of its own for Knative Serving's real
// control plane: its webhooks admit every pod of a revision, and its
// operator owns cluster-wide CRDs.
type knativeLab struct {
	*ownCluster
	in *install.Installer
}

func newKnativeLab(ctx context.Context, t *testing.T) *knativeLab {
	t.Helper()
	ref, archives := os.Getenv("MC_LAB_KNATIVE_IMAGE"), os.Getenv("MC_LAB_KNATIVE_IMAGES")
	if ref == "" || archives == "" {
		t.Fatal("MC_LAB_KNATIVE_IMAGE and MC_LAB_KNATIVE_IMAGES are not set: run scripts/lab.sh, which builds the Knative operator and Serving")
	}
	charts, err := upstream.KnativeOperatorChart(kservemesh.Versions.KnativeServing, t.TempDir())
	require.NoError(t, err, "the operator chart comes from the knative.dev/operator module the operator was built from")

	// The lab's test images too (MC_LAB_IMAGES): the stand-in model
	// server the revisions run.
	all := strings.Split(archives, ",")
	if test := os.Getenv("MC_LAB_IMAGES"); test != "" {
		all = append(all, strings.Split(test, ",")...)
	}
	l := &knativeLab{ownCluster: newOwnCluster(ctx, t, "mc-lab-knative", all)}

	// The KServe suite installs Istio first: net-istio's manifest holds
	// Istio Gateways and PeerAuthentications, whose CRDs Istio's base
	// chart brings, and the knative-local-gateway Service in istio-system
	// (without the namespace the operator's install fails: "namespaces
	// istio-system not found"). Only those here: istiod is
	// TestRealIstioControlPlane's.
	_, err = l.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	crds, err := upstream.LoadCRDs(upstream.OfModule(upstream.CRDSources(kservemesh.Versions, kservemesh.Versions), "istio.io/api"))
	require.NoError(t, err)
	require.NoError(t, l.applier.Apply(ctx, crds...))
	require.NoError(t, l.applier.WaitEstablished(ctx, time.Minute, crds...))

	// The run's options as a user with a chart mirror and a registry
	// mirror would give them: --chart-source knative=<dir>,
	// --image knative=<hub>:<tag>.
	opts := options.Defaults()
	opts.ChartSources["knative"] = charts
	opts.Images["knative"] = ref
	opts.Timeouts.InstallTimeout, opts.Timeouts.ReadyTimeout = 5*time.Minute, 3*time.Minute
	require.NoError(t, opts.Validate())
	for part, what := range knativeStandIns {
		logf("knative lab: %s is a stand-in, %s", part, what)
	}
	l.in = &install.Installer{Kube: l.kube, Apply: l.applier, Opts: opts, Versions: kservemesh.Versions, Suite: "kservemesh", Wait: true, Logf: logf,
		Helm: &install.Helm{Kubeconfig: l.kubeconfig, Context: "kind-mc-lab-knative", Logf: logf}}
	return l
}

// The real Knative operator and Serving controllers, installed by the
// KServe suite's own installer calls (its knative-operator and
// knative-serving steps: Installer.KnativeOperator, then
// Installer.KnativeServing with fixtures/kservemesh/knative-serving.yaml)
// through the air-gap options, with net-istio's two deployments stood in
// for: KnativeServing Ready (the installer's wait) and every serving
// deployment available, each running the lab's image.
func TestKnativeServing(t *testing.T) {
	ctx := context.Background()
	l := newKnativeLab(ctx, t)
	t.Cleanup(func() { l.dump(t, "knative-operator"); l.dump(t, install.KnativeNamespace) })
	hub, _ := options.SplitImageRef(l.in.Opts.Images["knative"])

	t.Run("operator", func(t *testing.T) {
		start := time.Now()
		require.NoError(t, l.in.KnativeOperator(ctx))
		l.runsImage(ctx, t, "knative-operator", "", hub)
		logf("knative lab: operator Ready in %s", time.Since(start).Round(time.Second))
	})
	t.Run("serving", func(t *testing.T) {
		start := time.Now()
		objs, err := fixtures.Load("kservemesh/knative-serving.yaml")
		require.NoError(t, err)
		require.NoError(t, l.in.KnativeServing(ctx, objs), "KnativeServing Ready and knative-serving's deployments available")
		logf("knative lab: KnativeServing Ready in %s", time.Since(start).Round(time.Second))

		deps, err := l.kube.AppsV1().Deployments(install.KnativeNamespace).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		var names []string
		for _, d := range deps.Items {
			names = append(names, d.Name)
		}
		sort.Strings(names)
		require.Equal(t, knativeDeployments, names, "the operator's deployments for Serving 1.21.1 with net-istio")
		l.runsImage(ctx, t, install.KnativeNamespace, "", hub)

		// The operator's own account of it, not only the installer's wait.
		var ks *unstructured.Unstructured
		for _, o := range objs {
			if o.GetKind() == "KnativeServing" {
				ks = o
			}
		}
		require.NotNil(t, ks, "the fixture's KnativeServing")
		ri, err := l.applier.Resource(ks)
		require.NoError(t, err)
		ks, err = ri.Get(ctx, ks.GetName(), metav1.GetOptions{})
		require.NoError(t, err)
		for _, c := range []string{"Ready", "DeploymentsAvailable", "InstallSucceeded"} {
			require.Equal(t, "True", condition(ks, c), "KnativeServing condition %s", c)
		}
		version, _, _ := unstructured.NestedString(ks.Object, "status", "version")
		require.Equal(t, kservemesh.Versions.KnativeServing, version, "the Serving release the operator installed")
	})
	// The activator premise's mechanism on Knative's own controllers:
	// target burst capacity 0 takes the activator off sklearn-iris's path
	// once its pod is ready (SKS Serve), the default keeps it on
	// sklearn-iris-burst's (Proxy). The modes are read as the suite's
	// cold-start target reads them (kservemesh.Predictor, by Knative's
	// service label).
	t.Run("revisions", func(t *testing.T) {
		start := time.Now()
		_, err := l.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "user1"}}, metav1.CreateOptions{})
		require.NoError(t, err)
		ksvcs := knativeServices(t)
		require.NoError(t, l.applier.Apply(ctx, ksvcs...))
		for _, k := range ksvcs {
			ri, err := l.applier.Resource(k)
			require.NoError(t, err)
			require.NoError(t, ready.Condition(ctx, ri, k.GetName(), "Ready", 3*time.Minute), "Knative Service %s", k.GetName())
		}
		logf("knative lab: both Knative Services Ready in %s", time.Since(start).Round(time.Second))
		// Every revision pod runs the lab's queue-proxy: the
		// queue-sidecar-image the installer set.
		pods, err := l.kube.CoreV1().Pods("user1").List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		require.NotEmpty(t, pods.Items)
		for _, p := range pods.Items {
			var queue string
			for _, c := range p.Spec.Containers {
				if c.Name == "queue-proxy" {
					queue = c.Image
				}
			}
			require.Equal(t, hub+"/queue:lab", queue, "pod %s's queue-proxy", p.Name)
		}
		for isvc, want := range map[string]string{kservemesh.SklearnIris: "Serve", kservemesh.SklearnIrisBurst: "Proxy"} {
			p := kservemesh.Predictor{Kube: l.kube, Dynamic: l.applier.Dynamic, Namespace: "user1", ISVC: isvc}
			// The SKS leaves Proxy once the autoscaler sees the pod
			// ready and the excess burst capacity allows it: up to a
			// minute, then the last state read is the verdict.
			var st coldstart.State
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
				st, err = p.State(ctx)
				if (err == nil && st.ReadyPods == 1 && st.Mode == want) || time.Now().After(deadline) {
					break
				}
			}
			require.NoError(t, err)
			require.Equal(t, 1, st.ReadyPods, "%s's ready pods", isvc)
			require.Equal(t, want, st.Mode, "%s's ServerlessService with its pod ready", isvc)
			logf("knative lab: %s's ServerlessService is %s with %d ready pod", isvc, st.Mode, st.ReadyPods)
		}
	})
}

// knativeServices are the revisions behind the KServe suite's two
// predictors (fixtures/kservemesh/inferenceservices.yaml), as Knative
// Services of the names KServe's reconciler gives them (<isvc>-predictor)
// and with what it carries over onto the revision template: the
// InferenceService's autoscaling annotations, and min-scale 1, KServe's
// default minReplicas (pkg/apis/serving/v1beta1/component.go). The
// container is the lab's stand-in model server under the httpbin name,
// whose registry (index.docker.io) the fixture's KnativeServing exempts
// from tag resolution, as it does for KServe's own images; IfNotPresent,
// the image is loaded, not pulled.
func knativeServices(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	isvcs, err := fixtures.Load("kservemesh/inferenceservices.yaml")
	require.NoError(t, err)
	var out []*unstructured.Unstructured
	for _, isvc := range isvcs {
		if isvc.GetName() != kservemesh.SklearnIris && isvc.GetName() != kservemesh.SklearnIrisBurst {
			continue
		}
		annotations := map[string]any{"autoscaling.knative.dev/min-scale": "1"}
		for k, v := range isvc.GetAnnotations() {
			if strings.HasPrefix(k, "autoscaling.knative.dev/") {
				annotations[k] = v
			}
		}
		out = append(out, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "serving.knative.dev/v1", "kind": "Service",
			"metadata": map[string]any{"name": isvc.GetName() + "-predictor", "namespace": isvc.GetNamespace()},
			"spec": map[string]any{"template": map[string]any{
				"metadata": map[string]any{"annotations": annotations},
				"spec": map[string]any{"containers": []any{map[string]any{
					"image": "docker.io/kennethreitz/httpbin:latest", "imagePullPolicy": "IfNotPresent",
					"args":  []any{"-listen", ":8080"},
					"ports": []any{map[string]any{"containerPort": int64(8080)}},
				}}},
			}},
		}})
	}
	require.Len(t, out, 2, "sklearn-iris and sklearn-iris-burst in the fixture")
	return out
}

// condition is the status of a condition of an object's status, "" if
// absent.
func condition(o *unstructured.Unstructured, typ string) string {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			s, _ := m["status"].(string)
			return s
		}
	}
	return ""
}
