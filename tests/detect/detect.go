// Package detect finds what a cluster already runs (Istio and its data-plane
// mode, cert-manager, Knative Serving, KServe, the Gateway API CRDs) and
// turns the --install policy into a plan that the run states before it
// touches anything. Detection looks at workloads, not CRDs alone: CRDs often
// outlive the component that brought them.
package detect

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// Component names, as in --install and --chart-source.
const (
	Istio       = "istio"
	CertManager = "cert-manager"
	Knative     = "knative"
	KServe      = "kserve"
	GatewayAPI  = "gateway-api"
	ChatQnA     = "chatqna"
)

// Istio's parts, each detected and planned on its own under the one
// --install policy of istio: a cluster may run istiod without the suite's
// gateway, or without what ambient mode needs, and skipping all of Istio
// because istiod answers would leave those out.
const (
	IstioGateway = "istio-gateway" // the suite's ingress gateway release
	IstioCNI     = "istio-cni"
	Ztunnel      = "ztunnel"
)

// IstioParts are the parts a mode needs: istiod and the suite's gateway,
// and in ambient mode istio-cni and ztunnel.
func IstioParts(ambient bool) []string {
	parts := []string{Istio, IstioGateway}
	if ambient {
		parts = append(parts, IstioCNI, Ztunnel)
	}
	return parts
}

// ComponentOf names the --install component a part belongs to.
func ComponentOf(part string) string {
	switch part {
	case IstioGateway, IstioCNI, Ztunnel:
		return Istio
	}
	return part
}

// Workload names a Deployment (the suite's gateway).
type Workload struct{ Namespace, Name string }

// Found is what detection saw of one component.
type Found struct {
	Component string
	Installed bool
	Version   string
	// Detail says where it was seen (and the Istio data-plane mode).
	Detail string
	// Ambient: istiod runs with ambient support (PILOT_ENABLE_AMBIENT,
	// which only the ambient profile sets; Istio's default is false).
	Ambient bool
}

func (f Found) String() string {
	if !f.Installed {
		return f.Component + ": not found"
	}
	v := f.Version
	if v == "" {
		v = "version unknown"
	}
	return fmt.Sprintf("%s: %s (%s)", f.Component, v, f.Detail)
}

// workload is where a component's main deployment lives.
type workload struct{ component, namespace, name string }

var workloads = []workload{
	{Istio, "istio-system", "istiod"},
	{CertManager, "cert-manager", "cert-manager"},
	{Knative, "knative-serving", "activator"},
	{KServe, "kserve", "kserve-controller-manager"},
	{ChatQnA, "chatqna", "chatqna-nginx"},
}

// Detect looks at the cluster. gateway is where the suite's Istio gateway
// runs (zero when it needs none).
func Detect(ctx context.Context, kube kubernetes.Interface, dyn dynamic.Interface, gateway Workload) ([]Found, error) {
	var out []Found
	if gateway.Name != "" {
		g, err := deployment(ctx, kube, IstioGateway, gateway.Namespace, gateway.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	for _, ds := range []struct{ part, name string }{{IstioCNI, "istio-cni-node"}, {Ztunnel, "ztunnel"}} {
		d, err := kube.AppsV1().DaemonSets("istio-system").Get(ctx, ds.name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			out = append(out, Found{Component: ds.part})
		case err != nil:
			return nil, fmt.Errorf("detecting %s: %w", ds.part, err)
		default:
			out = append(out, Found{Component: ds.part, Installed: true, Version: imageTag(d.Spec.Template.Spec.Containers), Detail: "daemonset istio-system/" + ds.name})
		}
	}
	for _, w := range workloads {
		f, err := deployment(ctx, kube, w.component, w.namespace, w.name)
		if err != nil {
			return nil, err
		}
		if f.Installed && w.component == Istio {
			f.Detail += ", " + istioMode(ctx, kube)
			if d, err := kube.AppsV1().Deployments(w.namespace).Get(ctx, w.name, metav1.GetOptions{}); err == nil {
				f.Ambient = envTrue(d.Spec.Template.Spec.Containers, "PILOT_ENABLE_AMBIENT")
			}
		}
		out = append(out, f)
	}
	gw, err := gatewayAPI(ctx, dyn)
	if err != nil {
		return nil, err
	}
	return append(out, gw), nil
}

// version reads app.kubernetes.io/version, or the first container image's
// tag.
func version(d *appsv1.Deployment) string {
	for _, labels := range []map[string]string{d.Labels, d.Spec.Template.Labels} {
		if v := labels["app.kubernetes.io/version"]; v != "" {
			return v
		}
	}
	return imageTag(d.Spec.Template.Spec.Containers)
}

// imageTag is the first container image's tag.
func imageTag(containers []corev1.Container) string {
	if len(containers) == 0 {
		return ""
	}
	img := containers[0].Image
	img = strings.SplitN(img, "@", 2)[0]
	if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
		return img[i+1:]
	}
	return ""
}

// istioMode says which data planes the installation can serve: ztunnel
// (with istio-cni) means ambient is available; sidecar injection always is.
func istioMode(ctx context.Context, kube kubernetes.Interface) string {
	_, err := kube.AppsV1().DaemonSets("istio-system").Get(ctx, "ztunnel", metav1.GetOptions{})
	if err == nil {
		return "ambient available (ztunnel present)"
	}
	return "sidecar only (no ztunnel)"
}

// envTrue tells whether any container sets name to "true".
func envTrue(containers []corev1.Container, name string) bool {
	for _, c := range containers {
		for _, e := range c.Env {
			if e.Name == name && e.Value == "true" {
				return true
			}
		}
	}
	return false
}

// ForMode adjusts what was found to what a mode needs: in ambient mode an
// istiod without ambient support does not count as found (istio-cni and
// ztunnel beside it would not work), so the plan installs it or, when
// installing is forbidden, stops and says why.
func ForMode(found []Found, ambient bool) []Found {
	out := append([]Found(nil), found...)
	for i, f := range out {
		if ambient && f.Component == Istio && f.Installed && !f.Ambient {
			out[i].Installed = false
			out[i].Detail = f.Detail + "; without ambient support (PILOT_ENABLE_AMBIENT is not true: istiod needs the ambient profile)"
		}
	}
	return out
}

func deployment(ctx context.Context, kube kubernetes.Interface, component, namespace, name string) (Found, error) {
	d, err := kube.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Found{Component: component}, nil
	}
	if err != nil {
		return Found{}, fmt.Errorf("detecting %s: %w", component, err)
	}
	return Found{Component: component, Installed: true, Version: version(d), Detail: "deployment " + namespace + "/" + name}, nil
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func gatewayAPI(ctx context.Context, dyn dynamic.Interface) (Found, error) {
	crd, err := dyn.Resource(crdGVR).Get(ctx, "gateways.gateway.networking.k8s.io", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Found{Component: GatewayAPI}, nil
	}
	if err != nil {
		return Found{}, fmt.Errorf("detecting the Gateway API CRDs: %w", err)
	}
	a := crd.GetAnnotations()
	return Found{Component: GatewayAPI, Installed: true, Version: a["gateway.networking.k8s.io/bundle-version"],
		Detail: "CRDs, " + a["gateway.networking.k8s.io/channel"] + " channel"}, nil
}
