package opeaistio

import (
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/harness"
)

// Deviations are where the suite does not do what opea-istio.md prints:
// its corrections (docs/FACTS.md) and what it adds. A run's report lists
// those of its own steps in its provenance (a mode's Istio step, a ChatQnA
// profile's step bring their own); --dry-run prints them.
var Deviations = append(istioDeviations(Modes...), []harness.Deviation{
	{Name: "chatqna-light-profile", Step: "chatqna-light",
		Document: "deploys the whole ChatQnA chart 1.1.0: TGI alone needs about 65Gi of memory, and every model is downloaded from Hugging Face",
		Suite:    "by default (--chatqna-profile=light) scales every model server and backend to zero, keeping chatqna-nginx and the Services it proxies to (its /home is nginx's own page)",
		Source:   "docs/FACTS.md (ChatQnA chart 1.1.0; second review: the light profile rendered from GenAIInfra v1.1); fixtures/opeaistio/chatqna-light.values.yaml"},
	{Name: "model-volume-claim", Step: "chatqna-full",
		Document: "sets global.modelUsePVC: model-volume, a claim nothing creates",
		Suite:    "mounts a claim only when --chatqna-model-pvc names one, checked Bound first",
		Source:   "docs/FACTS.md (second review: the full profile's modelUsePVC)"},
	{Name: "enroll-chatqna", Step: EnrollStep,
		Document: "never labels a namespace istio.io/dataplane-mode=ambient (nothing in GenAIInfra v1.1 does), so ztunnel never captures the chatqna pods and the STRICT PeerAuthentication enforces nothing",
		Suite:    "enrolls chatqna for the mode (istio.io/dataplane-mode=ambient, or sidecar injection with the pods restarted), and the premise mesh-enrollment checks it",
		Source:   "docs/FACTS.md (OPEA: where the document falls short)"},
	{Name: "clients", Step: "clients",
		Document: "has no client pod: its one request is curl to the gateway's load-balancer address",
		Suite:    "adds a client outside the mesh (namespace outside) and one in chatqna, so that STRICT mTLS and the mesh path are probed from inside the cluster",
		Source:   "fixtures/opeaistio/clients.yaml"},
	{Name: "curl-with-sni", Step: "ingress-and-mtls",
		Document: "sets IP and then curls ${DNS}, which it never sets",
		Suite:    "sends HTTPS with an SNI that matches *.intel.com (curl --resolve <host>:443:<gateway address>), as the gateway's server requires",
		Source:   "docs/FACTS.md (OPEA: where the document falls short)"},
	{Name: "cleanup-deletes-strict-mtls", Step: "cleanup",
		Document: "cleans up with kubectl apply -f istio-mtls-strict.yaml, which leaves the PeerAuthentication applied",
		Suite:    "deletes the gateway, the certificate and the PeerAuthentication, and checks they are gone",
		Source:   "docs/FACTS.md (OPEA: where the document falls short)"},
}...)

// istioDeviations are the Istio step's, in each mode (its name says the
// mode): the helmfile pins no Istio and gives the gateway a LoadBalancer;
// the document knows ambient mode only.
func istioDeviations(modes ...dataplane.Mode) []harness.Deviation {
	var out []harness.Deviation
	for _, m := range modes {
		step := "istio-" + string(m)
		out = append(out,
			harness.Deviation{Name: "istio-version-pinned", Step: step,
				Document: "installs Istio's charts without a version (the helmfile pins none)",
				Suite:    "pins Istio 1.27.1 (ambient is GA from 1.24; one Istio for both suites)",
				Source:   "docs/FACTS.md (OPEA: helmfile); suites/opeaistio/suite.go Versions"},
			harness.Deviation{Name: "gateway-node-ports", Step: step,
				Document: "gives the istio-ingress gateway a Service of type LoadBalancer",
				Suite:    "publishes the gateway on node ports 30021/30080/30443, which the suite's kind config maps to the host (kind has no LoadBalancer)",
				Source:   "docs/FACTS.md (OPEA: where the document falls short); kind-config/opeaistio.yaml"})
		if m == dataplane.Sidecar {
			out = append(out, harness.Deviation{Name: "sidecar-mode", Step: step,
				Document: "runs Istio in ambient mode only",
				Suite:    "also runs the same setup with sidecars (--mode=sidecar)",
				Source:   "suites/opeaistio/suite.go Modes"})
		}
	}
	return out
}
