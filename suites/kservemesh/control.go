package kservemesh

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
)

// policyControlFeature proves the 403s come from the AuthorizationPolicy:
// without it the denied cells answer 200; with it restored, 403 again.
var policyControlFeature = harness.Control(harness.Feature{Name: "policy-control", Manifests: []string{"kservemesh/auth.yaml"}},
	[]*unstructured.Unstructured{fixtures.MustPick("kservemesh/auth.yaml", "AuthorizationPolicy", "allow-serving-tests")},
	func(*harness.Run) matrix.Matrix { return PolicyControl() },
	func(*harness.Run) matrix.Matrix {
		return Isolation().Only("kserve-policy-restored", "default-to-sklearn-iris-status", "user2-to-sklearn-iris-status")
	})

// strictControlFeature proves the reset of a plaintext client comes from
// STRICT mTLS: without the PeerAuthentication (PERMISSIVE) the plaintext
// request reaches the AuthorizationPolicy and gets its 403; restored, it is
// reset again.
var strictControlFeature = harness.Control(harness.Feature{Name: "strict-control", Manifests: []string{"kservemesh/auth.yaml"}},
	[]*unstructured.Unstructured{fixtures.MustPick("kservemesh/auth.yaml", "PeerAuthentication", "default")},
	func(*harness.Run) matrix.Matrix { return StrictControl() },
	func(*harness.Run) matrix.Matrix {
		return StrictMTLS().Only("kserve-strict-restored", "default-to-httpbin-plaintext")
	})
