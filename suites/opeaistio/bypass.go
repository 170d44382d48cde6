package opeaistio

import (
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// bypassFeature is bypass-paths: STRICT mTLS must hold on every port of
// chatqna-nginx's pods, not only on its Service. From outside the mesh,
// each port by pod IP is refused; in sidecar mode the sidecar's documented
// plaintext ports (15020, 15021, 15090) answer by design and are findings;
// in ambient mode ztunnel captures every port but its own HBONE port, so
// nothing is informational, and that port (15008) is probed with TLS
// without a client certificate, as what it is (tests/bypass ports.go).
var bypassFeature = harness.Bypass(harness.Feature{Name: "bypass-paths", Applies: options.Corrected,
	Manifests: []string{"opeaistio/istio-mtls-strict.yaml", "opeaistio/clients.yaml"}},
	"opea-bypass-paths", BypassTargets(), BypassClients)
