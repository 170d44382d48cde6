package kservemesh

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/cases"
)

// policyControlFeature proves the 403s come from the AuthorizationPolicy:
// without it the denied cells answer 200; with it restored, 403 again.
func policyControlFeature() features.Feature {
	policy := fixtures.MustPick("kservemesh/auth.yaml", "AuthorizationPolicy", "allow-serving-tests")
	return run.ControlFeature("policy-control", []*unstructured.Unstructured{policy}, cases.KServePolicyControl(),
		cases.KServeIsolation().Only("kserve-policy-restored", "default-to-sklearn-iris-status", "user2-to-sklearn-iris-status"))
}

// strictControlFeature proves the reset of a plaintext client comes from
// STRICT mTLS: without the PeerAuthentication (PERMISSIVE) the plaintext
// request reaches the AuthorizationPolicy and gets its 403; restored, it is
// reset again.
func strictControlFeature() features.Feature {
	peer := fixtures.MustPick("kservemesh/auth.yaml", "PeerAuthentication", "default")
	return run.ControlFeature("strict-control", []*unstructured.Unstructured{peer}, cases.KServeStrictControl(),
		cases.KServeStrictMTLS().Only("kserve-strict-restored", "default-to-httpbin-plaintext"))
}
