package opeaistio

import (
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/disruption"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// FailClosed is the fail-closed feature's name.
const FailClosed = "fail-closed"

// failClosedFeature takes away in turn istiod and the node proxy (ambient:
// the ztunnel on chatqna-nginx's node; sidecar: chatqna-nginx's pods, so a
// new sidecar starts cold) while the outside-mesh request to chatqna-nginx
// (refused) and the inside one (allowed) are probed every round: a single
// 2xx from outside fails it; the inside request must answer again in time
// after each restoration. Extended: it scales the cluster's control plane
// to zero, so it is claimed by default only on the suite's own kind
// cluster.
var failClosedFeature = harness.FailClosed(harness.Feature{Name: FailClosed, ClaimedOnOwnCluster: true, Applies: options.Corrected,
	Manifests: []string{"opeaistio/istio-mtls-strict.yaml", "opeaistio/clients.yaml"}},
	func(e *harness.Env) []disruption.Disruption {
		limit := e.Opts.Timeouts.ReadyTimeout
		nodeProxy := disruption.RestartPods(e.Kube, "sidecar-restart", ChatQnANamespace, NginxSelector, limit)
		if e.Mode == dataplane.Ambient {
			nodeProxy = disruption.RestartNodeProxy(e.Kube, "ztunnel-restart", ChatQnANamespace, NginxSelector, limit)
		}
		return []disruption.Disruption{disruption.ScaleToZero(e.Kube, "istiod", "istio-system", "istiod", limit), nodeProxy}
	},
	func(o options.Options) matrix.Matrix { return FailClosedCells(o.Mode) })

// NginxSelector picks chatqna-nginx's pods, and on its pod template its
// Deployment.
const NginxSelector = "app=" + ChatQnANginx

// FailClosedCells: the request from outside the mesh, which STRICT must
// refuse whatever is disrupted, and the one from inside, whose downtime is
// measured.
func FailClosedCells(mode dataplane.Mode) matrix.Matrix {
	return IngressAndMTLS(mode, Gateway{}).Only("opea-fail-closed", "outside-mesh-to-chatqna-nginx", "inside-mesh-to-chatqna-nginx")
}
