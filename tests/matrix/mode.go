package matrix

import "github.com/secure-inference/mesh-conformance/tests/dataplane"

// DeniedByPolicy is how an AuthorizationPolicy refusal looks in a mode: an
// HTTP 403 behind a sidecar, a reset or empty reply from ztunnel in ambient
// mode without a waypoint (ztunnel enforces L4 only).
func DeniedByPolicy(mode dataplane.Mode) Expectation {
	if mode == dataplane.Ambient {
		return Expect(DeniedL4).WithNote("ambient without a waypoint: ztunnel refuses at L4")
	}
	return Expect(DeniedHTTP403).WithBody("RBAC: access denied")
}
