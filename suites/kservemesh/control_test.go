package kservemesh

import (
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/cases"
)

// policyControlFeature proves the 403 comes from the AuthorizationPolicy:
// without it the denied cell answers 200; with it restored, 403 again.
func policyControlFeature() features.Feature {
	policy := fixtures.MustLoad("kservemesh/auth.yaml")[1:] // the AuthorizationPolicy
	return run.ControlFeature("policy-control", policy, cases.KServePolicyControl(),
		cases.KServeIsolation().Only("kserve-policy-restored", "default-to-sklearn-iris-status"))
}
