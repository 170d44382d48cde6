package install

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// Parts found in place under --install=missing are not released again.
func TestIstioReleasesSkipWhatThePlanLeaves(t *testing.T) {
	in := installer("opeaistio", opeaPins)
	in.Skip = map[string]bool{detect.Istio: true, detect.IstioGateway: true}
	assert.Equal(t, []string{"istio-system/istio-cni", "istio-system/ztunnel"}, names(istioReleases(t, in, dataplane.Ambient, opeaGateway)))
	in.Skip = map[string]bool{detect.IstioCNI: true, detect.Ztunnel: true}
	assert.Equal(t, []string{"istio-system/istio-base", "istio-system/istiod", "istio-ingress/istio-ingress"}, names(istioReleases(t, in, dataplane.Ambient, opeaGateway)))
}
