// Package kindconfig holds the kind cluster configurations of the suites.
package kindconfig

import "embed"

// FS holds one <suite>.yaml per suite.
//
//go:embed *.yaml
var FS embed.FS
