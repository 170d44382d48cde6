package kserveambient

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/secure-inference/mesh-conformance/tests/capacity"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/install"
)

// Waypoint's requests: Istio 1.27.1's waypoint template takes the
// istio-proxy container's resources from global.waypoint.resources, 100m
// CPU / 128Mi requested (manifests/charts/istio-control/istio-discovery
// values.yaml and files/waypoint.yaml at 1.27.1); the suite sets none.
var waypointRequest = capacity.Req("waypoint (user1, global.waypoint.resources)", "100m", "128Mi")

// ingressRequest is the ingress Gateway's pod (ingress.yaml): Istio
// 1.27.1's kube-gateway template takes its resources from
// global.proxy.resources, 100m CPU / 128Mi requested (files/
// kube-gateway.yaml and values.yaml at 1.27.1); the suite sets none.
var ingressRequest = capacity.Req(IngressGateway+" (istio-system, global.proxy.resources)", "100m", "128Mi")

// Workloads is what the suite's own workloads request in a mode: the
// predictor (predictorPod), httpbin and the user1 and user2 clients (a
// sidecar each in sidecar mode, nothing in ambient mode: their containers
// request nothing), the ingress Gateway, and in ambient mode user1's
// waypoint. The client outside the mesh requests nothing in either mode.
func Workloads(mode dataplane.Mode) []capacity.Request {
	cpu, mem := capacity.PodRequests(predictorPod(mode))
	out := []capacity.Request{{What: SklearnIris + " predictor pod (kserve-container; storage-initializer first)", CPU: cpu, Memory: mem}, ingressRequest}
	if mode == dataplane.Ambient {
		return append(out, waypointRequest)
	}
	for _, w := range []string{"httpbin (user1)", "sleep (user1)", "sleep (user2)"} {
		r := install.Sidecar
		r.What = w + " " + r.What
		out = append(out, r)
	}
	return out
}

// predictorPod is the Standard-mode predictor pod's requests as the
// scheduler counts them (capacity.PodRequests): kserve-container 50m/128Mi
// (fixtures/kserveambient/inferenceservice.yaml) after KServe's
// storage-initializer 100m/100Mi (KServe v0.20.0 charts/kserve-resources/
// files/common/configmap-patch.yaml storageInitializer), no queue-proxy;
// in sidecar mode with istio-init and the native sidecar istio-proxy
// (install.Sidecar), which runs beside the storage initializer.
func predictorPod(mode dataplane.Mode) corev1.PodSpec {
	q := resource.MustParse
	spec := corev1.PodSpec{
		InitContainers: []corev1.Container{capacity.Container("storage-initializer", q("100m"), q("100Mi"))},
		Containers:     []corev1.Container{capacity.Container("kserve-container", q("50m"), q("128Mi"))},
	}
	if mode == dataplane.Sidecar {
		s := install.Sidecar
		spec.InitContainers = append([]corev1.Container{capacity.Container("istio-init", s.CPU, s.Memory), capacity.NativeSidecar(s)}, spec.InitContainers...)
	}
	return spec
}
