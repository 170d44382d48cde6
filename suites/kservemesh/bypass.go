package kservemesh

import (
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// bypassFeature is bypass-paths: the documented URL is one way to a model;
// the policy must hold on every other. Every port of both predictors' pods
// and httpbin's, by pod IP, from default (outside the mesh) and user2
// (another mesh namespace): refused everywhere but on the sidecar's
// documented plaintext ports (15020, 15021, 15090), whose answers are
// findings saying whether they name the models. Even sklearn-iris-burst,
// whose documented URL the activator opens to everyone, must refuse by pod
// IP: the activator limitation is about its path, not about the pod.
var bypassFeature = harness.Bypass(harness.Feature{Name: "bypass-paths", Applies: options.Corrected,
	Manifests: []string{"kservemesh/auth.yaml", "kservemesh/inferenceservices.yaml", "kservemesh/httpbin.yaml", "kservemesh/clients.yaml"}},
	"kserve-bypass-paths", BypassTargets(), BypassClients)
