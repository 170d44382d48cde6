package detect

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
)

func dep(ns, name, image string, labels map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Image: image}}}}}}
}

func TestPlan(t *testing.T) {
	found := []Found{{Component: Istio, Installed: true, Version: "1.26.2"}, {Component: CertManager}}
	policy := func(c string) Policy {
		if c == Istio {
			return Missing
		}
		return All
	}
	steps := Plan(found, []string{Istio, CertManager, KServe}, policy)
	assert.False(t, steps[0].Install, "istio found and --install=missing: left alone")
	assert.True(t, steps[1].Install)
	assert.True(t, steps[2].Install)
	assert.Contains(t, Describe(steps), "use as found")
	none := Plan(found, []string{Istio, CertManager}, func(string) Policy { return None })
	assert.Equal(t, []string{CertManager}, MissingComponents(none))
}

func TestVersionFromLabelsOrImage(t *testing.T) {
	assert.Equal(t, "1.27.1", version(dep("istio-system", "istiod", "docker.io/istio/pilot:1.27.1", nil)))
	assert.Equal(t, "1.21.1", version(dep("knative-serving", "activator", "gcr.io/knative-releases/activator@sha256:abc", map[string]string{"app.kubernetes.io/version": "1.21.1"})))
	assert.Equal(t, "", version(dep("x", "y", "localhost:5000/img", nil)), "a registry port is not a tag")
}

func TestDetectSeesWorkloadsNotJustCRDs(t *testing.T) {
	kube := fake.NewSimpleClientset(dep("istio-system", "istiod", "docker.io/istio/pilot:1.27.1", nil),
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "ztunnel"}})
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{crdGVR: "CustomResourceDefinitionList"})
	found, err := Detect(context.Background(), kube, dyn, Workload{})
	assert.NoError(t, err)
	byName := map[string]Found{}
	for _, f := range found {
		byName[f.Component] = f
	}
	assert.True(t, byName[Istio].Installed)
	assert.Equal(t, "1.27.1", byName[Istio].Version)
	assert.Contains(t, byName[Istio].Detail, "ambient available")
	assert.False(t, byName[CertManager].Installed)
	assert.False(t, byName[GatewayAPI].Installed)
}

func emptyDynamic() *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{crdGVR: "CustomResourceDefinitionList"})
}

// Each partial-Istio shape is planned part by part: what is there is left
// alone under --install=missing, what the mode needs and lacks is installed,
// and with --install=none the plan stops on what is missing.
func TestPartialIstioShapes(t *testing.T) {
	ctx := context.Background()
	istiod := dep("istio-system", "istiod", "docker.io/istio/pilot:1.27.1", nil)
	kserveGateway := Workload{Namespace: "istio-system", Name: "istio-ingressgateway"}
	plan := func(kube *fake.Clientset, gw Workload, ambient bool, p Policy) []Step {
		found, err := Detect(ctx, kube, emptyDynamic(), gw)
		assert.NoError(t, err)
		return Plan(found, IstioParts(ambient), func(c string) Policy {
			assert.Equal(t, Istio, ComponentOf(c), "every part is under --install=istio=...")
			return p
		})
	}
	installs := func(steps []Step) []string {
		var out []string
		for _, s := range steps {
			if s.Install {
				out = append(out, s.Component)
			}
		}
		return out
	}

	// istiod only: the suite's gateway is installed, istiod left alone.
	steps := plan(fake.NewSimpleClientset(istiod), kserveGateway, false, Missing)
	assert.Equal(t, []string{IstioGateway}, installs(steps))

	// istiod and a gateway, but in another namespace than the suite's.
	other := dep("istio-ingress", "istio-ingress", "docker.io/istio/proxyv2:1.27.1", nil)
	steps = plan(fake.NewSimpleClientset(istiod, other), kserveGateway, false, Missing)
	assert.Equal(t, []string{IstioGateway}, installs(steps))
	steps = plan(fake.NewSimpleClientset(istiod, other), Workload{Namespace: "istio-ingress", Name: "istio-ingress"}, false, Missing)
	assert.Empty(t, installs(steps), "the OPEA suite's gateway is that one")

	// Sidecar-only Istio asked for ambient: istio-cni and ztunnel are
	// installed with missing, and stop the plan with none.
	gw := dep("istio-system", "istio-ingressgateway", "docker.io/istio/proxyv2:1.27.1", nil)
	steps = plan(fake.NewSimpleClientset(istiod, gw), kserveGateway, true, Missing)
	assert.Equal(t, []string{IstioCNI, Ztunnel}, installs(steps))
	steps = plan(fake.NewSimpleClientset(istiod, gw), kserveGateway, true, None)
	assert.Equal(t, []string{IstioCNI, Ztunnel}, MissingComponents(steps))
	assert.Contains(t, Describe(steps), "ztunnel")

	// Ambient complete: nothing to do.
	cni := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "istio-cni-node"}}
	zt := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "ztunnel"}}
	steps = plan(fake.NewSimpleClientset(istiod, gw, cni, zt), kserveGateway, true, None)
	assert.Empty(t, MissingComponents(steps))
}

// An istiod without ambient support does not count for ambient mode.
func TestIstiodWithoutAmbientIsNotFoundForAmbient(t *testing.T) {
	ctx := context.Background()
	plain := dep("istio-system", "istiod", "docker.io/istio/pilot:1.27.1", nil)
	amb := plain.DeepCopy()
	amb.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "PILOT_ENABLE_AMBIENT", Value: "true"}}
	for _, c := range []struct {
		istiod  *appsv1.Deployment
		ambient bool
		want    bool
	}{{plain, false, true}, {plain, true, false}, {amb, true, true}} {
		found, err := Detect(ctx, fake.NewSimpleClientset(c.istiod), emptyDynamic(), Workload{})
		require.NoError(t, err)
		for _, f := range ForMode(found, c.ambient) {
			if f.Component == Istio {
				assert.Equal(t, c.want, f.Installed, "ambient=%v, PILOT_ENABLE_AMBIENT=%v", c.ambient, f.Ambient)
				if !c.want {
					assert.Contains(t, f.Detail, "without ambient support")
				}
			}
		}
	}
}
