package kservemesh

import (
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// policyControlFeature proves the 403s come from the AuthorizationPolicy:
// without it the denied cells answer 200; with it restored, 403 again.
var policyControlFeature = harness.Control(harness.Feature{Name: "policy-control", Applies: options.Corrected},
	[]harness.PolicyFixture{{File: "kservemesh/auth.yaml", Kind: "AuthorizationPolicy", Name: "allow-serving-tests"}},
	func(options.Options) matrix.Matrix { return PolicyControl() },
	func(options.Options) matrix.Matrix {
		return Isolation().Only("kserve-policy-restored", "default-to-sklearn-iris-status", "user2-to-sklearn-iris-status")
	})

// strictControlFeature proves the reset of a plaintext client comes from
// STRICT mTLS: without the PeerAuthentication (PERMISSIVE) the plaintext
// request reaches the AuthorizationPolicy and gets its 403; restored, it is
// reset again.
var strictControlFeature = harness.Control(harness.Feature{Name: "strict-control", Applies: options.Corrected},
	[]harness.PolicyFixture{{File: "kservemesh/auth.yaml", Kind: "PeerAuthentication", Name: "default"}},
	func(options.Options) matrix.Matrix { return StrictControl() },
	func(options.Options) matrix.Matrix {
		return StrictMTLS().Only("kserve-strict-restored", "default-to-httpbin-plaintext")
	})

// activatorControlFeature proves the hardened profile's 403s on
// sklearn-iris-burst come from the activator's policies: without them the
// other namespaces' calls answer 200 again (the documented hole); restored,
// 403 again. Only the hardened profile applies those policies.
var activatorControlFeature = harness.Control(harness.Feature{Name: "activator-policy-control", Applies: hardened},
	[]harness.PolicyFixture{
		{File: HardenedFixture, Kind: "AuthorizationPolicy", Name: "deny-all-by-default"},
		{File: HardenedFixture, Kind: "AuthorizationPolicy", Name: "allow-traffic-to-activator"},
		{File: HardenedFixture, Kind: "AuthorizationPolicy", Name: "allow-user1-via-activator"},
	},
	func(options.Options) matrix.Matrix { return ActivatorControl() },
	func(o options.Options) matrix.Matrix {
		return IsolationOf(o.KServeProfile).Only("kserve-activator-policy-restored", "default-to-sklearn-iris-burst-status", "user2-to-sklearn-iris-burst-status")
	})

// hardened tells whether the run uses the hardened profile.
func hardened(o options.Options) bool { return o.KServeProfile == options.KServeHardened }
