//go:build lab

package lab

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secure-inference/mesh-conformance/suites/kserveambient"
	"github.com/secure-inference/mesh-conformance/suites/kservemesh"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// kserveAmbientRun are the kserveambient steps (ambient mode) the lab
// runs on the KServe cluster, in the suite's order; kserveAmbientLeftOut
// are the others, each with why: no istiod, ztunnel or Envoy here. The
// test fails on a step in neither, so a new step is a decision.
var (
	kserveAmbientRun     = []string{"kserve-standard", "namespaces", "auth-ambient", "inferenceservice", "httpbin-and-clients"}
	kserveAmbientLeftOut = map[string]string{
		"capacity":           "the node holds kservemesh's setup already, so the step would count nothing new; its arithmetic is unit-tested (suites/kserveambient/capacity_test.go)",
		"baseline-workloads": "the baseline suite's workload, run by the baseline lab tests",
		"istio-ambient":      "no ztunnel or Envoy image: Istio's CRDs are applied as the KServe lab does; istiod is TestRealIstioControlPlane's",
		"cert-manager":       "the KServe lab's cert-manager stand-in (certmanager_test.go) already issues KServe's webhook certificate",
		"gateway-api-crds":   "the waypoint's and the ingress's kinds: with neither here, nothing needs them",
		"waypoint":           "a Gateway of class istio-waypoint is Programmed by istiod and runs Envoy: neither is here",
		"ingress":            "a Gateway of class istio is Programmed by istiod and runs Envoy: neither is here",
	}
)

// standardMode runs the kserveambient suite's own steps on the KServe
// lab's real KServe manager, after the kservemesh subtests: its
// kserve-standard step upgrades KServe's charts with the suite's values,
// and KServe's own reconciler must then make the Standard-mode objects the
// suite's cells and premises name (a Deployment and a Service
// sklearn-iris-predictor, pods labelled app=isvc.sklearn-iris-predictor,
// no Knative Service, no queue-proxy). Both premises are seen failing
// first, on the Knative-mode KServe the kservemesh subtests left. Then the
// suite's isolation, pod-IP and L7-rule matrices run from the suite's own
// clients against the real predictor: nothing enforces a policy here, so
// they must fail on exactly the cells the mesh must refuse, and serve the
// others.
func (l *kserveLab) standardMode(ctx context.Context, t *testing.T) {
	// The counterfactuals of both premises, on what kservemesh left:
	// KServe defaults to Knative mode, and sklearn-iris is a Knative
	// Service (its Deployment is the revision's, not <isvc>-predictor).
	require.Error(t, kserveambient.CheckStandardMode(ctx, l.kube), "kservemesh's KServe is in Knative mode")
	require.Error(t, kserveambient.CheckPredictorDeployment(ctx, l.kube, kserveambient.SklearnIris), "kservemesh's sklearn-iris is a Knative Service")

	// The same model's name in Standard mode: the Knative-mode
	// InferenceServices go first, with the Service their route named
	// sklearn-iris-predictor, which Standard mode's own Service replaces.
	isvcs := l.applier.Dynamic.Resource(kservemesh.InferenceServices).Namespace("user1")
	for _, name := range []string{kservemesh.SklearnIris, kservemesh.SklearnIrisBurst, kservemesh.SklearnIrisCold} {
		if err := isvcs.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			require.NoError(t, err)
		}
	}
	predictor := kserveambient.SklearnIris + "-predictor"
	gone := false
	for deadline := time.Now().Add(2 * time.Minute); !gone && time.Now().Before(deadline); time.Sleep(time.Second) {
		_, err := l.kube.CoreV1().Services("user1").Get(ctx, predictor, metav1.GetOptions{})
		_, isvcErr := isvcs.Get(ctx, kserveambient.SklearnIris, metav1.GetOptions{})
		gone = apierrors.IsNotFound(err) && apierrors.IsNotFound(isvcErr)
	}
	require.True(t, gone, "the Knative-mode sklearn-iris and its route's Service user1/%s are deleted within 2 minutes", predictor)

	// The suite's own steps for ambient mode, the mode its document
	// describes (the kservemesh env's options are sidecar's).
	opts := l.env.Opts
	opts.Mode = dataplane.Ambient
	in := *l.env.Installer
	in.Suite, in.Versions = kserveambient.Suite.Name, kserveambient.Versions
	env := harness.NewEnv(opts, dataplane.Ambient, l.kube, l.env.Istio, l.applier, &in, logf)
	steps := kserveambient.Suite.Steps(opts)
	for _, s := range steps {
		if why, ok := kserveAmbientLeftOut[s.Name]; ok {
			logf("kserve lab: kserveambient step %s left out: %s", s.Name, why)
		} else {
			require.Contains(t, kserveAmbientRun, s.Name, "kserveambient's step %s is neither run here nor left out with a reason", s.Name)
		}
	}
	for _, s := range kserveAmbientRun {
		runStep(ctx, t, kserveambient.Suite.Name, steps, env, s)
	}
	require.NoError(t, kserveambient.CheckStandardMode(ctx, l.kube))
	for check, err := range runChecks(ctx, t, kserveambient.Suite, env, "standard-mode") {
		require.NoError(t, err, "the kserveambient premise %s on what KServe made", check)
	}

	// What the suite's cells rest on, as KServe made it: the Service's
	// port 80 to the model server's 8080, and pods by PredictorSelector
	// with the model server and no queue-proxy.
	svc, err := l.kube.CoreV1().Services("user1").Get(ctx, predictor, metav1.GetOptions{})
	require.NoError(t, err)
	require.Len(t, svc.Spec.Ports, 1)
	require.Equal(t, int32(80), svc.Spec.Ports[0].Port, "the Service port the suite's requests use (kservemesh.PredictorHost, no port)")
	require.Equal(t, int32(kserveambient.ModelPort), svc.Spec.Ports[0].TargetPort.IntVal, "the model server's port, the pod-IP cells' port")
	pods, err := l.kube.CoreV1().Pods("user1").List(ctx, metav1.ListOptions{LabelSelector: kserveambient.PredictorSelector(kserveambient.SklearnIris)})
	require.NoError(t, err)
	require.Len(t, pods.Items, 1, "one predictor pod by the suite's selector %s", kserveambient.PredictorSelector(kserveambient.SklearnIris))
	var containers []string
	for _, c := range pods.Items[0].Spec.Containers {
		containers = append(containers, c.Name)
	}
	require.Equal(t, []string{"kserve-container"}, containers, "Standard mode: the model server alone, no queue-proxy")

	m := kserveambient.Isolation(dataplane.Ambient)
	m.Name = "lab-kserveambient-standard-mode"
	m.Cells = append(m.Cells, kserveambient.PodIP(dataplane.Ambient, pods.Items[0].Status.PodIP).Cells...)
	m.Cells = append(m.Cells, kserveambient.L7RuleOnZtunnel(dataplane.Ambient).Cells...)
	settings := labSettings()
	settings.MaxTimeToConsistency = 10 * time.Second
	res := matrix.Run(ctx, m, probe.PodExecutor{Config: l.rest, Client: l.kube}, l.resolve, settings)
	t.Logf("kserveambient's cells on KServe's real Standard-mode predictor, no mesh:\n%s", res.Table())
	require.NoError(t, res.Err)
	want := []string{"outside-to-sklearn-iris-pod-ip", "outside-to-sklearn-iris-predict", "outside-to-sklearn-iris-status",
		"user1-get-httpbin-under-l7-deny-on-ztunnel", "user1-to-sklearn-iris-pod-ip",
		"user2-to-sklearn-iris-pod-ip", "user2-to-sklearn-iris-predict", "user2-to-sklearn-iris-status"}
	sort.Strings(want)
	require.Equal(t, want, failedNames(res), "only the cells ztunnel or the waypoint must refuse fail, with no mesh")
	for _, c := range res.Failed() {
		require.Equal(t, 200, c.Last.HTTPCode, "no mesh: %s is served: %s", c.Name, c.Last.Detail())
	}
}
