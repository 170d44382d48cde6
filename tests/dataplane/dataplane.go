// Package dataplane names Istio's data-plane modes. It is a leaf (it
// imports nothing of this module) so that the options package can hold a
// mode without linking the probe engine; how each mode refuses a request
// is matrix.DeniedByPolicy.
package dataplane

// Mode is the Istio data-plane mode under test.
type Mode string

const (
	Sidecar Mode = "sidecar"
	Ambient Mode = "ambient"
)

// Modes lists the accepted modes.
var Modes = []Mode{Sidecar, Ambient}
