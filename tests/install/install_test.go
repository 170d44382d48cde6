package install

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	istionetworking "istio.io/client-go/pkg/apis/networking/v1"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/detect"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/versions"
)

// The suites' pins (suites/*/suite.go), repeated here: the suites import
// this package, so its own tests cannot import them.
var (
	kservePins = versions.Set{Istio: "1.27.1", CertManager: "v1.17.0", GatewayAPI: "v1.5.1", KnativeServing: "1.21.1", KServe: "v0.20.0"}
	opeaPins   = versions.Set{Istio: "1.27.1", CertManager: "v1.16.1", GatewayAPI: "v1.2.0", ChatQnA: "1.1.0"}
)

// The suites' gateways, likewise.
var (
	kserveGateway = Gateway{Name: "istio-ingressgateway", Namespace: "istio-system"}
	opeaGateway   = Gateway{Name: "istio-ingress", Namespace: "istio-ingress", NodePorts: map[string]int{"status-port": 30021, "http2": 30080, "https": 30443}}
)

func installer(suite string, v versions.Set) *Installer {
	return &Installer{Opts: options.Defaults(), Versions: v, Suite: suite, Wait: true}
}

func istioReleases(t *testing.T, in *Installer, mode dataplane.Mode, gateways ...Gateway) []Release {
	t.Helper()
	rels, err := in.istioReleases(mode, gateways...)
	require.NoError(t, err)
	return rels
}

func kserveReleases(t *testing.T, in *Installer) []Release {
	t.Helper()
	rels, err := in.kserveReleases()
	require.NoError(t, err)
	return rels
}

func names(rels []Release) []string {
	var out []string
	for _, r := range rels {
		out = append(out, r.Namespace+"/"+r.Name)
	}
	return out
}

func TestIstioReleaseOrder(t *testing.T) {
	in := installer("opeaistio", opeaPins)
	assert.Equal(t, []string{"istio-system/istio-base", "istio-system/istiod", "istio-system/istio-cni", "istio-system/ztunnel", "istio-ingress/istio-ingress"},
		names(istioReleases(t, in, dataplane.Ambient, opeaGateway)), "the documented ambient order")
	assert.Equal(t, []string{"istio-system/istio-base", "istio-system/istiod", "istio-system/istio-ingressgateway"},
		names(istioReleases(t, installer("kservemesh", kservePins), dataplane.Sidecar, kserveGateway)))
	amb := istioReleases(t, in, dataplane.Ambient, opeaGateway)
	assert.Equal(t, "ambient", amb[1].Values["profile"])
	assert.Equal(t, "ambient", amb[2].Values["profile"])
	assert.Equal(t, "default", amb[0].Values["defaultRevision"])
	assert.Equal(t, "https://istio-release.storage.googleapis.com/charts", amb[0].Chart.Source)
	assert.Equal(t, "1.27.1", amb[0].Chart.Version)
	assert.Equal(t, "istio-control/istio-discovery", amb[1].Chart.Path, "istiod's folder in Istio's source tree")
	ports, _ := json.Marshal(amb[4].Values)
	assert.JSONEq(t, `{"service":{"type":"NodePort","ports":[
		{"name":"status-port","port":15021,"protocol":"TCP","targetPort":15021,"nodePort":30021},
		{"name":"http2","port":80,"protocol":"TCP","targetPort":80,"nodePort":30080},
		{"name":"https","port":443,"protocol":"TCP","targetPort":443,"nodePort":30443}]}}`, string(ports))

	// On any other cluster the node ports are the API server's to choose.
	for _, other := range []func(*options.Options){
		func(o *options.Options) { o.Cluster.Kubeconfig = "/home/me/.kube/config" },
		func(o *options.Options) { o.Cluster.KindConfig = "my-kind.yaml" },
	} {
		in := installer("opeaistio", opeaPins)
		other(&in.Opts)
		ports, _ := json.Marshal(istioReleases(t, in, dataplane.Ambient, opeaGateway)[4].Values)
		assert.NotContains(t, string(ports), "nodePort")
	}
}

func TestKServeReleasesFollowTheChartLayoutOfTheVersion(t *testing.T) {
	assert.Equal(t, []string{"kserve/kserve-crd", "kserve/kserve-resources", "kserve/kserve-runtime-configs"}, names(kserveReleases(t, installer("kservemesh", kservePins))))
	old := kservePins.With(versions.Set{KServe: "v0.15.2"})
	rels := kserveReleases(t, installer("kservemesh", old))
	assert.Equal(t, []string{"kserve/kserve-crd", "kserve/kserve"}, names(rels))
	assert.Equal(t, "kserve-resources", rels[1].Chart.Path, "v0.15's chart named kserve lives in charts/kserve-resources")
	assert.Equal(t, "Serverless", rels[1].Values["kserve"].(map[string]any)["controller"].(map[string]any)["deploymentMode"])
}

func TestKnativeOperatorChart(t *testing.T) {
	in := installer("kservemesh", kservePins)
	assert.Equal(t, "https://github.com/knative/operator/releases/download/knative-v1.21.1/knative-operator-v1.21.1.tgz", in.KnativeOperatorChart().Source)
	in.Opts.ChartSources = map[string]string{"knative": "/mirror/charts"}
	assert.Equal(t, "/mirror/charts", in.KnativeOperatorChart().Source)
}

// The setup step's check: the flag as the chart renders it passes; KServe's
// default (false), a missing flag or a broken ConfigMap fail with the fix.
func TestCheckIstioVirtualHostDisabled(t *testing.T) {
	ctx := context.Background()
	ingress := func(raw string) *fake.Clientset {
		return fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: KServeConfigMap, Namespace: KServeNamespace},
			Data: map[string]string{KServeIngressKey: raw}})
	}
	assert.NoError(t, CheckIstioVirtualHostDisabled(ctx, ingress(`{"ingressGateway": "knative-serving/knative-ingress-gateway", "disableIstioVirtualHost": true}`)))
	for _, raw := range []string{`{"ingressGateway": "x", "disableIstioVirtualHost": false}`, `{"ingressGateway": "x"}`} {
		assert.ErrorContains(t, CheckIstioVirtualHostDisabled(ctx, ingress(raw)), "kserve.controller.gateway.disableIstioVirtualHost=true", raw)
	}
	assert.ErrorContains(t, CheckIstioVirtualHostDisabled(ctx, ingress(`ingress : |- {`)), "not JSON")
	assert.ErrorContains(t, CheckIstioVirtualHostDisabled(ctx, fake.NewClientset()), "reading kserve/inferenceservice-config")
}

func TestRestartRunningSkipsScaledDown(t *testing.T) {
	zero, one := int32(0), int32(1)
	kube := fake.NewSimpleClientset(
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "chatqna", Name: "chatqna-nginx"}, Spec: appsv1.DeploymentSpec{Replicas: &one}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "chatqna", Name: "chatqna-tgi"}, Spec: appsv1.DeploymentSpec{Replicas: &zero}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "chatqna", Name: "chatqna-ui"}})
	require.NoError(t, RestartRunning(context.Background(), kube, "chatqna"))
	for name, want := range map[string]bool{"chatqna-nginx": true, "chatqna-tgi": false, "chatqna-ui": true} {
		d, err := kube.AppsV1().Deployments("chatqna").Get(context.Background(), name, metav1.GetOptions{})
		require.NoError(t, err)
		_, restarted := d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"]
		assert.Equal(t, want, restarted, name)
	}
}

func TestCheckNoTopLevelHost(t *testing.T) {
	ctx := context.Background()
	require.NoError(t, CheckNoTopLevelHost(ctx, fake.NewSimpleClientset(), istiofake.NewSimpleClientset(), "user1", "sklearn-iris"))

	vs := &istionetworking.VirtualService{ObjectMeta: metav1.ObjectMeta{Name: "sklearn-iris", Namespace: "user1"}}
	vs.Spec.Hosts = []string{"sklearn-iris-user1.example.com"}
	err := CheckNoTopLevelHost(ctx, fake.NewSimpleClientset(), istiofake.NewSimpleClientset(vs), "user1", "sklearn-iris")
	assert.ErrorContains(t, err, "VirtualService user1/sklearn-iris exists (hosts [sklearn-iris-user1.example.com]")

	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "sklearn-iris", Namespace: "user1"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "knative-local-gateway.istio-system.svc.cluster.local"}}
	err = CheckNoTopLevelHost(ctx, fake.NewSimpleClientset(svc), istiofake.NewSimpleClientset(), "user1", "sklearn-iris")
	assert.ErrorContains(t, err, "Service user1/sklearn-iris exists (type ExternalName, knative-local-gateway")
}

func sidecarPod(name, app string, sidecar bool) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "chatqna", Labels: map[string]string{"app": app}},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	if sidecar {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "istio-proxy"})
	}
	return p
}

func deployment(name string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "chatqna"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}}}
}

// Moving to ambient restarts exactly the deployments whose pods carry a
// sidecar, and fails, naming the pods, while any still does.
func TestDropSidecars(t *testing.T) {
	ctx := context.Background()
	kube := fake.NewSimpleClientset(deployment("chatqna-nginx"), deployment("sleep"),
		sidecarPod("chatqna-nginx-1", "chatqna-nginx", true), sidecarPod("sleep-1", "sleep", false))
	restarted, err := DropSidecars(ctx, kube, "chatqna", 50*time.Millisecond)
	assert.Equal(t, []string{"chatqna-nginx"}, restarted)
	require.Error(t, err, "the fake never replaces the pod: the sidecar stays")
	assert.Contains(t, err.Error(), "still with istio-proxy: chatqna-nginx-1")
	d, _ := kube.AppsV1().Deployments("chatqna").Get(ctx, "chatqna-nginx", metav1.GetOptions{})
	assert.NotEmpty(t, d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"])
	s, _ := kube.AppsV1().Deployments("chatqna").Get(ctx, "sleep", metav1.GetOptions{})
	assert.Empty(t, s.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"], "no sidecar, no restart")

	none, err := DropSidecars(ctx, fake.NewSimpleClientset(deployment("sleep"), sidecarPod("sleep-1", "sleep", false)), "chatqna", time.Second)
	require.NoError(t, err)
	assert.Empty(t, none)
}

func TestCheckClaimBound(t *testing.T) {
	ctx := context.Background()
	claim := func(phase corev1.PersistentVolumeClaimPhase) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "models", Namespace: "chatqna"}, Status: corev1.PersistentVolumeClaimStatus{Phase: phase}}
	}
	require.NoError(t, CheckClaimBound(ctx, fake.NewSimpleClientset(claim(corev1.ClaimBound)), "chatqna", "models"))
	assert.ErrorContains(t, CheckClaimBound(ctx, fake.NewSimpleClientset(claim(corev1.ClaimPending)), "chatqna", "models"), "is Pending, not Bound")
	assert.ErrorContains(t, CheckClaimBound(ctx, fake.NewSimpleClientset(), "chatqna", "models"), "create it before the run")

	// kind's standard class binds on first use: Pending is fine there.
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	standard := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "standard", Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		VolumeBindingMode: &wffc}
	require.NoError(t, CheckClaimBound(ctx, fake.NewSimpleClientset(standard, claim(corev1.ClaimPending)), "chatqna", "models"))
}

// Parts found in place under --install=missing are not released again.
func TestIstioReleasesSkipWhatThePlanLeaves(t *testing.T) {
	in := installer("opeaistio", opeaPins)
	in.Skip = map[string]bool{detect.Istio: true, detect.IstioGateway: true}
	assert.Equal(t, []string{"istio-system/istio-cni", "istio-system/ztunnel"}, names(istioReleases(t, in, dataplane.Ambient, opeaGateway)))
	in.Skip = map[string]bool{detect.IstioCNI: true, detect.Ztunnel: true}
	assert.Equal(t, []string{"istio-system/istio-base", "istio-system/istiod", "istio-ingress/istio-ingress"}, names(istioReleases(t, in, dataplane.Ambient, opeaGateway)))
}

// The predictor's state from its real objects: the ServerlessService's
// mode and the ready pods, both by the Knative service label.
func TestPredictorState(t *testing.T) {
	ctx := context.Background()
	label := map[string]string{"serving.knative.dev/service": "sklearn-iris-cold-predictor"}
	sks := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "networking.internal.knative.dev/v1alpha1", "kind": "ServerlessService",
		"metadata": map[string]any{"name": "sklearn-iris-cold-predictor-00001", "namespace": "user1", "labels": map[string]any{"serving.knative.dev/service": "sklearn-iris-cold-predictor"}},
		"spec":     map[string]any{"mode": "Proxy"}}}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{ServerlessServices: "ServerlessServiceList"}, sks)
	readyPod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p1", Namespace: "user1", Labels: label},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	starting := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p2", Namespace: "user1", Labels: label}, Status: corev1.PodStatus{Phase: corev1.PodPending}}

	st, err := Predictor{Kube: fake.NewSimpleClientset(starting), Dynamic: dyn, Namespace: "user1", ISVC: "sklearn-iris-cold"}.State(ctx)
	require.NoError(t, err)
	assert.True(t, st.Cold(), "a pending pod behind the activator: cold")
	st, err = Predictor{Kube: fake.NewSimpleClientset(readyPod, starting), Dynamic: dyn, Namespace: "user1", ISVC: "sklearn-iris-cold"}.State(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, st.ReadyPods)

	empty := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{ServerlessServices: "ServerlessServiceList"})
	_, err = Predictor{Kube: fake.NewSimpleClientset(), Dynamic: empty, Namespace: "user1", ISVC: "sklearn-iris-cold"}.State(ctx)
	assert.ErrorContains(t, err, "no ServerlessService for sklearn-iris-cold-predictor")
}
