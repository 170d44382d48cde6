// Package kindconfig holds the kind cluster configurations of the suites.
package kindconfig

import "embed"

// FS holds one <suite>.yaml per suite.
//
//go:embed *.yaml
var FS embed.FS

// OPEAHostHTTPSPort is the host port opeaistio.yaml maps to the gateway's
// HTTPS node port (opeaistio.IstioGateway); the suite probes TLS ingress there.
const OPEAHostHTTPSPort = 30443
