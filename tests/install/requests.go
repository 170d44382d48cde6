package install

import (
	"github.com/secure-inference/mesh-conformance/tests/capacity"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/detect"
)

// Sidecar is what Istio injects into every pod of an enrolled namespace:
// istio-proxy requests 100m/128Mi (istio-discovery values.yaml
// global.proxy.resources, Istio 1.27.1). Its init container asks the same
// and never adds to it.
var Sidecar = capacity.Req("istio-proxy sidecar", "100m", "128Mi")

// Requests is what installing a component adds to the scheduler's books,
// from the charts' default values at the pinned versions (each figure's
// source beside it). The capacity step counts only components the plan will
// install: those already on the cluster are in its measured requests.
func Requests(component string, mode dataplane.Mode, gateways ...Gateway) []capacity.Request {
	switch component {
	case detect.Istio:
		// istio-discovery values.yaml: resources.requests 500m/2048Mi;
		// gateway values.yaml: 100m/128Mi (1.27.1).
		out := []capacity.Request{capacity.Req("istiod", "500m", "2048Mi")}
		for _, g := range gateways {
			out = append(out, capacity.Req("gateway "+g.Name, "100m", "128Mi"))
		}
		if mode == dataplane.Ambient {
			// istio-cni values.yaml 100m/100Mi, ztunnel values.yaml
			// 200m/512Mi, one pod of each per node.
			out = append(out, capacity.Req("istio-cni", "100m", "100Mi"), capacity.Req("ztunnel", "200m", "512Mi"))
		}
		return out
	case detect.Knative:
		// knative-operator chart values.yaml (knative.dev/operator v0.48.1,
		// the knative-v1.21.1 release: config/charts/knative-operator):
		// operator and operator-webhook 100m/100Mi each. Knative Serving
		// 1.21.1 as that operator installs it (cmd/operator/kodata:
		// knative-serving/1.21.1 and ingress/1.21/istio) has seven
		// deployments. Six are in KServe's workloads block
		// (fixtures/kservemesh/knative-serving.yaml), cut to 5m/32Mi:
		// activator, autoscaler, controller, webhook, net-istio-controller,
		// net-istio-webhook (the block's domain-mapping and
		// domainmapping-webhook name deployments 1.21.1 no longer has).
		// autoscaler-hpa (3-serving-hpa.yaml) is not in the block and keeps
		// its own 30m/40Mi. TestKnativeRequestsAreTheOperatorsManifests
		// recomputes these from the operator's module.
		return []capacity.Request{
			capacity.Req("knative-operator", "100m", "100Mi"), capacity.Req("knative operator-webhook", "100m", "100Mi"),
			capacity.Req("knative-serving (6 deployments x 5m/32Mi, KServe's workloads block)", "30m", "192Mi"),
			capacity.Req("knative-serving autoscaler-hpa", "30m", "40Mi"),
		}
	case detect.KServe:
		// kserve-resources values.yaml (v0.20.0): manager and
		// kube-rbac-proxy 100m/300Mi each.
		return []capacity.Request{capacity.Req("kserve-controller-manager", "200m", "600Mi")}
	default:
		// cert-manager (values.yaml v1.16/v1.17: resources {} everywhere),
		// Gateway API CRDs, ChatQnA's light profile: nothing requested.
		return nil
	}
}
