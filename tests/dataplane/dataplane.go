// Package dataplane names Istio's data-plane modes and how each one refuses
// a request, so that the probe engine needs neither the options nor the
// suites to state a mode-aware expectation.
package dataplane

import "github.com/secure-inference/mesh-conformance/tests/matrix"

// Mode is the Istio data-plane mode under test.
type Mode string

const (
	Sidecar Mode = "sidecar"
	Ambient Mode = "ambient"
)

// Modes lists the accepted modes.
var Modes = []Mode{Sidecar, Ambient}

// DeniedByPolicy is how an AuthorizationPolicy refusal looks in a mode: an
// HTTP 403 behind a sidecar, a reset or empty reply from ztunnel in ambient
// mode without a waypoint (ztunnel enforces L4 only).
func DeniedByPolicy(mode Mode) matrix.Expectation {
	if mode == Ambient {
		return matrix.Expect(matrix.DeniedL4).WithNote("ambient without a waypoint: ztunnel refuses at L4")
	}
	return matrix.Expect(matrix.DeniedHTTP403).WithBody("RBAC: access denied")
}
