package kservemesh

import "github.com/secure-inference/mesh-conformance/tests/harness"

// Deviations are where the suite does not do what kserve-servicemesh.md
// prints: its corrections (docs/FACTS.md) and what it adds. A run's
// report lists those of its own steps in its provenance; --dry-run prints
// them.
var Deviations = []harness.Deviation{
	{Name: "probe-from-an-application-container", Step: "httpbin-and-clients",
		Document: "execs curl in httpbin's istio-proxy container, which runs as UID 1337 that Istio's iptables rules do not capture: the request leaves without the sidecar",
		Suite:    "curls from the application container (sleep) of a client pod in user1, user2 and default",
		Source:   "docs/FACTS.md (KServe: namespaces and clients); fixtures/kservemesh/clients.yaml"},
	{Name: "user2-client", Step: "httpbin-and-clients",
		Document: "refuses one client, sleep in default (no sidecar), whose request reaches the predictor through knative-local-gateway",
		Suite:    "adds a sleep client with a sidecar in user2, as the current upstream page does: the refusal of another mesh namespace's identity, apart from the gateway's",
		Source:   "docs/FACTS.md (second review: the current upstream page adds user2)"},
	{Name: "disable-istio-virtual-host-by-chart-value", Step: "istio-virtual-host-disabled",
		Document: `edits the ingress key of ConfigMap kserve/inferenceservice-config with a "disableIstioVirtualHost": true snippet that is not valid YAML, then restarts the KServe controller`,
		Suite:    "sets the kserve chart value kserve.controller.gateway.disableIstioVirtualHost (a rerun's helm upgrade keeps it) and checks the flag where KServe reads it",
		Source:   "docs/FACTS.md (KServe ingress config); KServe v0.20.0 charts/kserve-resources files/common/configmap-patch.yaml"},
	{Name: "predictor-host", Step: "inferenceservices",
		Document: "calls <isvc>-predictor-default.user1.svc.cluster.local, the predictor's name up to KServe v0.10",
		Suite:    "calls <isvc>-predictor.user1.svc.cluster.local, its name since KServe v0.11 (the fallback was removed in v0.16)",
		Source:   "docs/FACTS.md (KServe: InferenceServices, hostnames)"},
	{Name: "target-burst-capacity-key", Step: "inferenceservices",
		Document: "annotates sklearn-iris with autoscaling.knative.dev/targetBurstCapacity (camelCase)",
		Suite:    "uses autoscaling.knative.dev/target-burst-capacity, Knative's documented key (the camelCase one also works)",
		Source:   "docs/FACTS.md (KServe: InferenceServices); fixtures/kservemesh/inferenceservices.yaml"},
	{Name: "predictor-requests", Step: "inferenceservices",
		Document: "leaves the predictors at the sklearn runtime's requests, 1 CPU and 2Gi each",
		Suite:    "requests 50m/128Mi per predictor, as KServe's own e2e tests do, so that three fit a kind node",
		Source:   "docs/FACTS.md (second review); KServe test/e2e/predictor/test_sklearn.py"},
	{Name: "cold-start-model", Step: "inferenceservices",
		Document: "has two InferenceServices, sklearn-iris and sklearn-iris-burst, neither scaling to zero (KServe's min-scale is 1)",
		Suite:    "adds sklearn-iris-cold (minReplicas 0), which cold-start-isolation scales to zero to put the activator on its path",
		Source:   "fixtures/kservemesh/inferenceservice-cold.yaml"},
	{Name: "hardened-activator-policies", Step: "hardened-activator-policies",
		Document: "leaves the activator open to every namespace: its documented limitation (knative net-istio #554)",
		Suite:    "under --kserve-profile=hardened applies OpenShift Serverless's tenant isolation on the activator (a default deny in knative-serving, its components admitted, user1 only via the activator)",
		Source:   "openshift-knative/knative-istio-authz-chart at 53e4436a; fixtures/kservemesh/hardened/activator.yaml"},
}
