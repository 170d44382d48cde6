// Package kindconfig holds the kind cluster configurations of the suites.
package kindconfig

import "embed"

// FS holds one <suite>.yaml per suite.
//
//go:embed *.yaml
var FS embed.FS

// Host ports mapped by opeaistio.yaml to the gateway's node ports.
const (
	OPEAHostHTTPPort  = 30080
	OPEAHostHTTPSPort = 30443
)
