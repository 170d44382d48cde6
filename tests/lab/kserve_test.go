//go:build lab

package lab

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/suites/kservemesh"
	"github.com/secure-inference/mesh-conformance/tests/coldstart"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/disruption"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	"github.com/secure-inference/mesh-conformance/tests/ready"
	"github.com/secure-inference/mesh-conformance/tests/upstream"
)

// kserveStandIns are the parts of the KServe suite's control plane the lab
// cannot build, and what stands in for them (docs/testing.md's tier
// table). Everything else the suite's steps install runs from upstream
// source at the suite's pins: the Knative operator and Serving
// (knative.dev/{operator,serving}), KServe's manager (github.com/kserve/kserve).
var kserveStandIns = map[string]string{
	"net-istio-controller":  "lab/cmd/netistio: marks KIngresses Ready with net-istio's load balancers, no VirtualServices, no gateway probe (knative.dev/net-istio is refused by the module proxy)",
	"net-istio-webhook":     "lab/cmd/netistio -webhook: TLS on 8443 for the probes; its webhook configurations keep no rules, so it is sent nothing",
	"cert-manager":          "certManagerStandIn (certmanager_test.go): the Secret of every Certificate, self-signed, and the caBundle of webhooks annotated inject-ca-from (cert-manager's binary modules are not served)",
	"kube-rbac-proxy":       "the lab's pause binary under the chart's name: the manager's metrics proxy, which nothing here reads (github.com/brancz/kube-rbac-proxy is refused by the module proxy)",
	"storage-initializer":   "lab/cmd/standin -storage-initializer: writes a model file where KServe's pod mutator mounts it, fetches nothing (KServe's Python image)",
	"sklearnserver":         "lab/cmd/standin in KServe runtime mode: starts only on the initializer's model file, answers KServe's V1 protocol on --http_port (KServe's Python image)",
	"knative-local-gateway": "lab/cmd/netistio -local-gateway: routes a cluster-local host to its KIngress rule's revision with its headers, as net-istio configures the gateway's Envoy; no mTLS, no policy",
	"istio":                 "none: no istiod, no sidecars (no proxy image), so the steps that need them (istio, knative-serving-sidecars, httpbin-and-clients' sidecar checks) are left out and nothing here enforces a policy",
}

// knativeServings is the operator's resource for Serving.
var knativeServings = schema.GroupVersionResource{Group: "operator.knative.dev", Version: "v1beta1", Resource: "knativeservings"}

// knativeDeployments are the deployments the operator (v0.48.1) makes for
// Serving 1.21.1 with net-istio: its kodata's, which
// TestKnativeRequestsAreTheOperatorsManifests counts too.
var knativeDeployments = []string{"activator", "autoscaler", "autoscaler-hpa", "controller", "net-istio-controller", "net-istio-webhook", "webhook"}

// kserveLab is a kind cluster of its own for the KServe suite's real
// control plane (Knative's and KServe's webhooks admit every pod of a
// revision; the operator owns cluster-wide CRDs), with the suite's steps
// and checks run on it, unmodified, through a harness.Env.
type kserveLab struct {
	*ownCluster
	env   *harness.Env
	steps []harness.Step
}

func newKServeLab(ctx context.Context, t *testing.T) *kserveLab {
	t.Helper()
	var archives []string
	for _, v := range []string{"MC_LAB_KNATIVE_IMAGES", "MC_LAB_KSERVE_IMAGES", "MC_LAB_IMAGES"} {
		if os.Getenv(v) == "" || os.Getenv("MC_LAB_KNATIVE_IMAGE") == "" || os.Getenv("MC_LAB_KSERVE_IMAGE") == "" {
			t.Fatalf("%s, MC_LAB_KNATIVE_IMAGE and MC_LAB_KSERVE_IMAGE must be set: run scripts/lab.sh, which builds Knative's and KServe's controllers and the stand-ins", v)
		}
		archives = append(archives, strings.Split(os.Getenv(v), ",")...)
	}
	knativeCharts, err := upstream.KnativeOperatorChart(kservemesh.Versions.KnativeServing, t.TempDir())
	require.NoError(t, err, "the operator chart comes from the knative.dev/operator module the operator was built from")
	kserveModule, err := upstream.ModuleDir("github.com/kserve/kserve", kservemesh.Versions.KServe)
	require.NoError(t, err, "KServe's charts come from the module its manager was built from")

	l := &kserveLab{ownCluster: newOwnCluster(ctx, t, "mc-lab-kserve", archives)}

	// What the suite's istio step would leave that Knative and KServe
	// need: the CRDs of Istio's base chart (net-istio's manifest holds
	// Gateways and PeerAuthentications; KServe creates VirtualServices
	// only where their CRD exists) and istio-system (the operator's
	// install fails without it: "namespaces istio-system not found").
	// cert-manager's CRDs for KServe's Certificate and Issuer. istiod
	// itself is TestRealIstioControlPlane's.
	_, err = l.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	sources := upstream.CRDSources(kservemesh.Versions, kservemesh.Versions)
	for _, module := range []string{"istio.io/api", "github.com/cert-manager/cert-manager"} {
		crds, err := upstream.LoadCRDs(upstream.OfModule(sources, module))
		require.NoError(t, err, module)
		require.NoError(t, l.applier.Apply(ctx, crds...))
		require.NoError(t, l.applier.WaitEstablished(ctx, time.Minute, crds...))
	}
	startCertManagerStandIn(ctx, t, l.ownCluster)

	// The run's options as a user with chart and registry mirrors gives
	// them: --chart-source knative=<dir> kserve=<dir>, --image
	// knative=<hub>:<tag> kserve=<hub>:<tag>.
	opts := options.Defaults()
	opts.ChartSources["knative"] = knativeCharts
	opts.ChartSources["kserve"] = filepath.Join(kserveModule, "charts")
	opts.Images["knative"] = os.Getenv("MC_LAB_KNATIVE_IMAGE")
	opts.Images["kserve"] = os.Getenv("MC_LAB_KSERVE_IMAGE")
	opts.Timeouts.InstallTimeout, opts.Timeouts.ReadyTimeout, opts.Timeouts.InferenceServiceReadyTimeout = 5*time.Minute, 3*time.Minute, 4*time.Minute
	require.NoError(t, opts.Validate())
	for part, what := range kserveStandIns {
		logf("kserve lab: %s is a stand-in, %s", part, what)
	}
	in := &install.Installer{Kube: l.kube, Apply: l.applier, Opts: opts, Versions: kservemesh.Versions, Suite: "kservemesh", Wait: true, Logf: logf,
		Helm: &install.Helm{Kubeconfig: l.kubeconfig, Context: "kind-mc-lab-kserve", Logf: logf}}
	ic, err := istioclient.NewForConfig(l.rest)
	require.NoError(t, err)
	l.env = harness.NewEnv(opts, dataplane.Sidecar, l.kube, ic, l.applier, in, logf)
	l.steps = kservemesh.Suite.Steps(opts)
	return l
}

// step runs one of the kservemesh suite's own setup steps, as its run
// would.
func (l *kserveLab) step(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	runStep(ctx, t, kservemesh.Suite.Name, l.steps, l.env, name)
}

// checks runs the checks of one of the kservemesh suite's features and
// returns their errors by check name.
func (l *kserveLab) checks(ctx context.Context, t *testing.T, feature string) map[string]error {
	t.Helper()
	return runChecks(ctx, t, kservemesh.Suite, l.env, feature)
}

// runStep runs the step of a suite's steps by its name on env.
func runStep(ctx context.Context, t *testing.T, suite string, steps []harness.Step, env *harness.Env, name string) {
	t.Helper()
	for _, s := range steps {
		if s.Name == name {
			start := time.Now()
			require.NoError(t, s.Run(ctx, env), "the %s suite's step %s", suite, name)
			logf("kserve lab: %s step %s in %s", suite, name, time.Since(start).Round(time.Second))
			return
		}
	}
	t.Fatalf("the %s suite has no step %s", suite, name)
}

// runChecks runs the checks of a suite's feature on env and returns their
// errors by check name.
func runChecks(ctx context.Context, t *testing.T, suite harness.Suite, env *harness.Env, feature string) map[string]error {
	t.Helper()
	for _, f := range suite.Features {
		if f.Name != feature {
			continue
		}
		require.NotEmpty(t, f.Checks, "feature %s has checks", feature)
		out := map[string]error{}
		for _, c := range f.Checks {
			out[c.Name] = c.Run(ctx, env)
		}
		return out
	}
	t.Fatalf("the %s suite has no feature %s", suite.Name, feature)
	return nil
}

// The KServe suite's setup on the real Knative operator, Knative Serving
// and KServe controllers, through the suite's own steps and options (air
// gap: chart sources and image overrides), and the suite's premises
// judged on what those controllers did.
func TestKServeControlPlane(t *testing.T) {
	// A cluster of its own: it runs beside the other parallel tests
	// (lab_test.go), which touch no cluster of its.
	t.Parallel()
	ctx := context.Background()
	l := newKServeLab(ctx, t)
	t.Cleanup(func() {
		for _, ns := range []string{"knative-operator", install.KnativeNamespace, install.KServeNamespace, "user1"} {
			l.dump(t, ns)
		}
	})
	knativeHub, _ := options.SplitImageRef(l.env.Opts.Images["knative"])
	kserveHub, _ := options.SplitImageRef(l.env.Opts.Images["kserve"])

	t.Run("knative", func(t *testing.T) {
		start := time.Now()
		l.step(ctx, t, "knative-operator")
		l.runsImage(ctx, t, "knative-operator", "", knativeHub)
		l.step(ctx, t, "knative-serving")
		logf("kserve lab: Knative operator and Serving Ready in %s", time.Since(start).Round(time.Second))

		deps, err := l.kube.AppsV1().Deployments(install.KnativeNamespace).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		var names []string
		for _, d := range deps.Items {
			names = append(names, d.Name)
		}
		sort.Strings(names)
		require.Equal(t, knativeDeployments, names, "the operator's deployments for Serving 1.21.1 with net-istio")
		l.runsImage(ctx, t, install.KnativeNamespace, "", knativeHub)

		// The operator's own account of it, not only the step's wait.
		ks, err := l.applier.Dynamic.Resource(knativeServings).Namespace(install.KnativeNamespace).Get(ctx, "knative-serving", metav1.GetOptions{})
		require.NoError(t, err)
		for _, c := range []string{"Ready", "DeploymentsAvailable", "InstallSucceeded"} {
			require.Equal(t, "True", condition(ks, c), "KnativeServing condition %s", c)
		}
		version, _, _ := unstructured.NestedString(ks.Object, "status", "version")
		require.Equal(t, kservemesh.Versions.KnativeServing, version, "the Serving release the operator installed")
	})
	t.Run("kserve", func(t *testing.T) {
		l.step(ctx, t, "kserve")
		l.runsImage(ctx, t, install.KServeNamespace, "app.kubernetes.io/name=kserve-controller-manager", kserveHub)
	})
	// The document's steps up to its InferenceServices (no sidecars:
	// knative-serving-sidecars is left out), then the suite's
	// inferenceservices step itself: its runtime premise, and the three
	// InferenceServices Ready within its own limit, reconciled by KServe
	// into Knative Services whose revisions run the lab's runtime.
	t.Run("inferenceservices", func(t *testing.T) {
		for _, s := range []string{"namespace-user1", "auth", "istio-virtual-host-disabled", "inferenceservices"} {
			l.step(ctx, t, s)
		}
		pods, err := l.kube.CoreV1().Pods("user1").List(ctx, metav1.ListOptions{LabelSelector: "serving.kserve.io/inferenceservice"})
		require.NoError(t, err)
		require.NotEmpty(t, pods.Items)
		for _, p := range pods.Items {
			images := map[string]string{}
			for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
				images[c.Name] = c.Image
			}
			require.Equal(t, knativeHub+"/queue:lab", images["queue-proxy"], "pod %s's queue-proxy: the queue-sidecar-image the installer set", p.Name)
			require.True(t, strings.HasPrefix(images["kserve-container"], kserveHub+"/sklearnserver:"), "pod %s's model server %s: the sklearn runtime's image", p.Name, images["kserve-container"])
			require.True(t, strings.HasPrefix(images["storage-initializer"], kserveHub+"/storage-initializer:"),
				"pod %s's storage initializer %s: KServe's pod mutator added it from the InferenceService config", p.Name, images["storage-initializer"])
		}
	})
	// The activator premise on Knative's own autoscaler: sklearn-iris
	// (target burst capacity 0) in Serve, sklearn-iris-burst in Proxy.
	// The SKS leaves Proxy once the autoscaler sees the pod ready: up to a
	// minute, then the checks' verdict is the last state.
	t.Run("activator-premise", func(t *testing.T) {
		var errs map[string]error
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(2 * time.Second) {
			errs = l.checks(ctx, t, "activator-premise")
			if (errs[kservemesh.SklearnIris] == nil && errs[kservemesh.SklearnIrisBurst] == nil) || time.Now().After(deadline) {
				break
			}
		}
		for isvc, err := range errs {
			require.NoError(t, err, "the suite's activator premise for %s", isvc)
		}
	})
	t.Run("activator-path", func(t *testing.T) { l.activatorPath(ctx, t) })
	t.Run("matrices", func(t *testing.T) { l.matrices(ctx, t) })
	t.Run("virtual-host", func(t *testing.T) { l.virtualHost(ctx, t) })
	t.Run("cold-start", func(t *testing.T) { l.coldStart(ctx, t) })
	t.Run("restart", func(t *testing.T) { l.restart(ctx, t) })
	// Last: it turns KServe to Standard mode and replaces the
	// InferenceServices (kserveambient_test.go).
	t.Run("standard-mode", func(t *testing.T) { l.standardMode(ctx, t) })
}

// revisionURL is the URL of an InferenceService's ready revision's
// Service, where net-istio's mesh route sends the predictor's host (no
// gateway and no sidecars here to route the host itself).
func (l *kserveLab) revisionURL(ctx context.Context, t *testing.T, isvc, path string) string {
	t.Helper()
	u, err := l.applier.Dynamic.Resource(kservemesh.InferenceServices).Namespace("user1").Get(ctx, isvc, metav1.GetOptions{})
	require.NoError(t, err)
	rev, _, _ := unstructured.NestedString(u.Object, "status", "components", "predictor", "latestReadyRevision")
	require.NotEmpty(t, rev, "%s's ready revision", isvc)
	return "http://" + rev + ".user1.svc.cluster.local" + path
}

// resolve picks a client's pod on this cluster, as the suite's runs do.
func (l *kserveLab) resolve(ctx context.Context, c matrix.Client) (probe.Pod, error) {
	p, err := ready.Pod(ctx, l.kube, c.Namespace, c.Selector, time.Minute)
	if err != nil {
		return probe.Pod{}, err
	}
	return probe.Pod{Namespace: p.Namespace, Name: p.Name, Container: c.Container}, nil
}

// peer is the last X-Forwarded-For hop of the stand-in's /headers body:
// the address queue-proxy was connected from.
func peer(t *testing.T, body string) string {
	t.Helper()
	var h struct{ Headers map[string]string }
	require.NoError(t, json.Unmarshal([]byte(body), &h), "the stand-in's /headers: %q", body)
	hops := strings.Split(h.Headers["X-Forwarded-For"], ",")
	return strings.TrimSpace(hops[len(hops)-1])
}

// activatorIPs are the activator pods' addresses.
func (l *kserveLab) activatorIPs(ctx context.Context, t *testing.T) map[string]bool {
	t.Helper()
	pods, err := l.kube.CoreV1().Pods(install.KnativeNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=activator"})
	require.NoError(t, err)
	ips := map[string]bool{}
	for _, p := range pods.Items {
		ips[p.Status.PodIP] = true
	}
	require.NotEmpty(t, ips)
	return ips
}

// coldStart runs the suite's cold-start probe (coldstart.Probe with the
// suite's kservemesh.Predictor as the target) against sklearn-iris-cold on
// Knative's own autoscaler: it scales to zero by itself (its 6 s window,
// then config-autoscaler's scale-to-zero grace period), the SKS is Proxy
// with no ready pod, user2's one request wakes it through the activator,
// which holds it until the new pod is ready and serves it: time to first
// byte and to ready measured. With no mesh here the 200 is expected; on a
// real cluster the documented setup serves it too (the activator's
// identity), which is the cold-start finding.
func (l *kserveLab) coldStart(ctx context.Context, t *testing.T) {
	pod, err := l.resolve(ctx, kservemesh.ClientUser2)
	require.NoError(t, err)
	target := kservemesh.Predictor{Kube: l.kube, Dynamic: l.applier.Dynamic, Namespace: "user1", ISVC: kservemesh.SklearnIrisCold}
	req := probe.Request{URL: l.revisionURL(ctx, t, kservemesh.SklearnIrisCold, "/v1/models/"+kservemesh.SklearnIrisCold)}
	s := coldstart.Settings{ColdWait: 3 * time.Minute, WarmWait: 2 * time.Minute, RequestTimeout: time.Minute, Poll: 500 * time.Millisecond}
	sample, err := coldstart.Probe(ctx, probe.PodExecutor{Config: l.rest, Client: l.kube}, pod, req, target, s)
	require.NoError(t, err)
	logf("kserve lab: cold start of %s: %s -> %s; first byte %s, ready after %s", kservemesh.SklearnIrisCold, sample.Cold, sample.Outcome,
		sample.TimeToFirstByte, sample.TimeToReady)
	require.True(t, sample.Cold.Cold(), "scaled to zero by Knative's autoscaler, SKS Proxy: %s", sample.Cold)
	require.True(t, sample.Served(), "the activator held the request until the new pod was ready and served it: %s", sample.Outcome.Detail())
	require.Contains(t, sample.Outcome.Evidence.Body, `"ready":true`)
}

// restart runs the suite's restart disruption (disruption.RestartPods on
// kservemesh.PredictorSelector, the suite's ServerlessService path read
// beside every round) on sklearn-iris, with user2's request in every
// round: before, queue-proxy's peer is user2's client; once the pod is
// deleted, the SKS points the revision at the activator, which holds the
// requests and forwards them (peer: the activator), the mechanism of the
// review's restart finding on Knative's own code; once the new pod is
// ready the client is the peer again. The window the activator carried the
// model is measured (with the stand-in runtime, which is ready in about a
// second; a real model server's start makes it longer).
func (l *kserveLab) restart(ctx context.Context, t *testing.T) {
	url := l.revisionURL(ctx, t, kservemesh.SklearnIris, "/headers")
	activators := l.activatorIPs(ctx, t)
	client, err := l.resolve(ctx, kservemesh.ClientUser2)
	require.NoError(t, err)
	clientPod, err := l.kube.CoreV1().Pods(client.Namespace).Get(ctx, client.Name, metav1.GetOptions{})
	require.NoError(t, err)
	cell := matrix.Cell{Name: "user2-to-sklearn-iris-headers", Client: kservemesh.ClientUser2,
		Request: probe.Request{URL: url, BodyBytes: 4096, Timeout: 30 * time.Second}, Expect: matrix.DeniedByPolicy(dataplane.Sidecar)}
	// No policy here, so the refusal never comes back: the rounds after
	// the restart only need to show the client as the peer again.
	settings := labSettings()
	settings.RequestTimeout, settings.MaxTimeToConsistency = 30*time.Second, 5*time.Second
	s := disruption.Settings{Settings: settings, HoldRounds: 2, TakeLimit: 2 * time.Minute, RestoreLimit: 3 * time.Minute, ServedIsFinding: true,
		Path: func(ctx context.Context) (string, error) {
			return kservemesh.ServerlessServicePath(ctx, l.applier.Dynamic, "user1", kservemesh.SklearnIris)
		}}
	d := disruption.RestartPods(l.kube, "pod-restart", "user1", kservemesh.PredictorSelector(kservemesh.SklearnIris), 3*time.Minute)
	res := disruption.Run(ctx, d, matrix.Matrix{Name: "lab-kserve-restart", Cells: []matrix.Cell{cell}}, probe.PodExecutor{Config: l.rest, Client: l.kube},
		l.resolve, s)
	require.NoError(t, res.Err)
	require.NoError(t, res.TakeErr)
	require.True(t, res.Restored, "%v", res.RestoreErr)
	require.Len(t, res.Cells, 1)

	var first, last time.Duration
	byPhase := map[string]map[string]int{}
	for _, o := range res.Cells[0].Observations {
		if o.EnvError != "" || o.Outcome.HTTPCode != 200 {
			logf("kserve lab: restart round %d (%s, %s): %s %s [%s]", o.Round, o.Phase, o.At.Round(time.Millisecond), o.Outcome, o.EnvError, o.Path)
			continue
		}
		from := "client"
		switch p := peer(t, o.Outcome.Evidence.Body); {
		case activators[p]:
			from = "activator"
			if first == 0 {
				first = o.At
			}
			last = o.At
		case p != clientPod.Status.PodIP:
			from = "other " + p
		}
		if byPhase[o.Phase] == nil {
			byPhase[o.Phase] = map[string]int{}
		}
		byPhase[o.Phase][from]++
		logf("kserve lab: restart round %d (%s, %s): 200 from %s [%s]", o.Round, o.Phase, o.At.Round(time.Millisecond), from, o.Path)
	}
	require.Positive(t, byPhase[disruption.Before]["client"], "before the restart, user2 reaches the model directly: %v", byPhase)
	require.Zero(t, byPhase[disruption.Before]["activator"], "before the restart, the activator is off sklearn-iris's path: %v", byPhase)
	// Measured: the activator serves from a few seconds after the delete,
	// while the old pod is still terminating (the taking phase), until the
	// new pod is ready; the SKS's spec.mode stays Serve throughout, only its
	// ActivatorEndpointsPopulated condition says so (the path recorded).
	served := 0
	for phase, n := range byPhase {
		if phase != disruption.Before {
			served += n["activator"]
		}
	}
	require.Positive(t, served, "once the pod was deleted, Knative put the activator on the path and it served user2: %v", byPhase)
	obs := res.Cells[0].Observations
	require.NotEmpty(t, obs)
	require.Equal(t, 200, obs[len(obs)-1].Outcome.HTTPCode)
	require.Equal(t, clientPod.Status.PodIP, peer(t, obs[len(obs)-1].Outcome.Evidence.Body), "after the restart the activator is off the path again")
	logf("kserve lab: restart of %s: the activator carried user2's requests from %s to %s (%s); by phase %v",
		kservemesh.SklearnIris, first.Round(time.Millisecond), last.Round(time.Millisecond), (last - first).Round(time.Millisecond), byPhase)
}

// activatorPath shows the mechanism of the documented limitation on
// Knative's own code: a request from user2's client to a revision reaches
// the model server from the activator's pod when the activator is on the
// path (sklearn-iris-burst) and from the client's own pod when it is not
// (sklearn-iris). The peer is the last X-Forwarded-For hop queue-proxy
// adds (Go's reverse proxy appends the address it was connected from),
// which the stand-in's /headers echoes. The request goes to the
// revision's Service by name, as net-istio's mesh route sends it (no
// sidecars here to route the predictor's host).
func (l *kserveLab) activatorPath(ctx context.Context, t *testing.T) {
	require.NoError(t, fixtures.Apply(ctx, l.applier, "kservemesh/clients.yaml"))
	require.NoError(t, ready.Deployments(ctx, l.kube, "user2", "app=sleep", 2*time.Minute))
	client, err := ready.Pod(ctx, l.kube, "user2", "app=sleep", time.Minute)
	require.NoError(t, err)
	activators := l.activatorIPs(ctx, t)
	ex := probe.PodExecutor{Config: l.rest, Client: l.kube}
	for isvc, viaActivator := range map[string]bool{kservemesh.SklearnIris: false, kservemesh.SklearnIrisBurst: true} {
		req := probe.Request{URL: l.revisionURL(ctx, t, isvc, "/headers"), BodyBytes: 4096}
		outs, err := probe.Run(ctx, ex, probe.Pod{Namespace: "user2", Name: client.Name, Container: "sleep"}, []probe.Request{req}, 10*time.Second)
		require.NoError(t, err)
		require.Len(t, outs, 1)
		require.Equal(t, 200, outs[0].HTTPCode, "user2 to %s's revision: %s", isvc, outs[0].Detail())
		from := peer(t, outs[0].Evidence.Body)
		if viaActivator {
			require.True(t, activators[from], "%s: queue-proxy's peer %s is not an activator pod %v", isvc, from, activators)
		} else {
			require.Equal(t, client.Status.PodIP, from, "%s: queue-proxy's peer is not user2's client", isvc)
		}
		logf("kserve lab: user2 -> %s reached the model from %s (activator on the path: %v)", isvc, from, viaActivator)
	}
}

// matrices runs the suite's isolation matrices, both profiles', from the
// suite's own clients, through the KServe and Knative objects the real
// controllers made: the predictors' hosts (ExternalName Services to
// knative-local-gateway, the gateway's data path stood in for by
// lab/cmd/netistio -local-gateway routing by KIngress), the activator on
// sklearn-iris-burst's path. Nothing enforces a policy here, so every
// refused cell answers 200: each matrix must fail on exactly the cells the
// mesh's policies must refuse, the document's five, and with the hardened
// profile its four activator cells too; every cell that expects 200 gets
// it through Knative's own routing.
func (l *kserveLab) matrices(ctx context.Context, t *testing.T) {
	l.deployLocalGateway(ctx, t)
	require.NoError(t, fixtures.Apply(ctx, l.applier, "kservemesh/httpbin.yaml"))
	for _, ns := range []string{"user1", "user2", "default"} {
		require.NoError(t, ready.Deployments(ctx, l.kube, ns, "app in (sleep,httpbin)", 2*time.Minute))
	}
	documented := []string{"default-to-sklearn-iris-predict", "default-to-sklearn-iris-status", "user2-to-httpbin",
		"user2-to-sklearn-iris-predict", "user2-to-sklearn-iris-status"}
	settings := labSettings()
	settings.MaxTimeToConsistency = 10 * time.Second
	ex := probe.PodExecutor{Config: l.rest, Client: l.kube}
	for _, p := range []options.KServeProfile{options.KServeDocumented, options.KServeHardened} {
		res := matrix.Run(ctx, kservemesh.IsolationOf(p), ex, l.resolve, settings)
		t.Logf("%s profile on the real Knative and KServe controllers:\n%s", p, res.Table())
		require.NoError(t, res.Err)
		want := documented
		if p == options.KServeHardened {
			want = append(slices.Clone(documented), kservemesh.HardenedBurst...)
		}
		sort.Strings(want)
		require.Equal(t, want, failedNames(res), "%s: only the cells the mesh's policies refuse fail, with no mesh", p)
		for _, c := range res.Failed() {
			require.Equal(t, 200, c.Last.HTTPCode, "%s: no policy, Knative serves %s: %s", p, c.Name, c.Last.Detail())
		}
	}
}

// deployLocalGateway runs the knative-local-gateway stand-in where the
// Service net-istio's manifest made in istio-system sends its traffic (pods
// labelled istio=ingressgateway, port 8081), with the right to read
// KIngresses.
func (l *kserveLab) deployLocalGateway(ctx context.Context, t *testing.T) {
	const ns, name = "istio-system", "knative-local-gateway-standin"
	_, err := l.kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = l.kube.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"networking.internal.knative.dev"}, Resources: []string{"ingresses"}, Verbs: []string{"get", "list", "watch"}}}},
		metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = l.kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	hub, _ := options.SplitImageRef(l.env.Opts.Images["knative"])
	labels := map[string]string{"istio": "ingressgateway", "app": name}
	one := int32(1)
	_, err = l.kube.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{ServiceAccountName: name,
				Containers: []corev1.Container{{Name: "gateway", Image: hub + "/net-istio-controller:lab", ImagePullPolicy: corev1.PullIfNotPresent,
					Args: []string{"-local-gateway", ":8081"}}}}}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	require.NoError(t, ready.Deployments(ctx, l.kube, ns, "app="+name, 2*time.Minute))
}

// virtualHost judges the suite's virtual-host premise on KServe's own
// ingress reconciler: it holds with the document's setting, and fails once
// the setting is false and KServe has made the top-level VirtualService
// and ExternalName Service (the counterfactual). KServe v0.20.0 never
// deletes them when the setting goes back to true (ingress_reconciler.go
// deletes only for a stopped InferenceService), so the test does.
func (l *kserveLab) virtualHost(ctx context.Context, t *testing.T) {
	for isvc, err := range l.checks(ctx, t, "virtual-host-disabled") {
		require.NoError(t, err, "the suite's virtual-host premise for %s with disableIstioVirtualHost true", isvc)
	}

	setFlag := func(v bool) {
		cms := l.kube.CoreV1().ConfigMaps(install.KServeNamespace)
		cm, err := cms.Get(ctx, install.KServeConfigMap, metav1.GetOptions{})
		require.NoError(t, err)
		var ingress map[string]any
		require.NoError(t, json.Unmarshal([]byte(cm.Data[install.KServeIngressKey]), &ingress))
		ingress[install.KServeDisableVirtualHost] = v
		data, err := json.Marshal(ingress)
		require.NoError(t, err)
		cm.Data[install.KServeIngressKey] = string(data)
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		require.NoError(t, err)
	}
	setFlag(false)
	t.Cleanup(func() {
		setFlag(true)
		_ = l.env.Istio.NetworkingV1().VirtualServices("user1").Delete(ctx, kservemesh.SklearnIris, metav1.DeleteOptions{})
		_ = l.kube.CoreV1().Services("user1").Delete(ctx, kservemesh.SklearnIris, metav1.DeleteOptions{})
	})
	// KServe reads the ConfigMap on each reconcile; a change to the Knative
	// Service it owns makes one (an annotation of the Service itself, not
	// of its revision template: no new revision).
	ksvcs := l.applier.Dynamic.Resource(schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}).Namespace("user1")
	_, err := ksvcs.Patch(ctx, kservemesh.SklearnIris+"-predictor", types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"mesh-conformance.lab/reconcile":"`+time.Now().Format("150405")+`"}}}`), metav1.PatchOptions{})
	require.NoError(t, err)
	var last error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		if last = l.checks(ctx, t, "virtual-host-disabled")[kservemesh.SklearnIris]; last != nil {
			break
		}
	}
	require.Error(t, last, "with disableIstioVirtualHost false, KServe made the top-level host and the premise must fail")
	logf("kserve lab: virtual-host premise with the setting false: %v", last)
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
