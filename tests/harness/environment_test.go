package harness

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/secure-inference/mesh-conformance/tests/detect"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
	"github.com/secure-inference/mesh-conformance/tests/versions"
)

var pins = versions.Set{NodeImage: versions.NodeImage134, Istio: "1.27.1", KnativeServing: "1.21.1", KServe: "v0.20.0", CertManager: "v1.17.0", GatewayAPI: "v1.5.1"}

// kservemesh on a cluster that already runs istiod 1.26.0: the Istio parts
// it adds follow that istiod (provision sets Versions.Istio), the report
// says istiod was found at 1.26.0, and Gateway API, which the suite does
// not need, is not listed although it is pinned.
func TestEnvironmentFromAFoundIstiod(t *testing.T) {
	following := pins
	following.Istio = "1.26.0"
	steps := []detect.Step{
		{Found: detect.Found{Component: detect.Istio, Installed: true, Version: "1.26.0"}, Why: "found, --install=missing"},
		{Found: detect.Found{Component: detect.IstioGateway}, Install: true},
		{Found: detect.Found{Component: detect.Knative}, Install: true},
		{Found: detect.Found{Component: detect.KServe, Installed: true}, Why: "found, --install=missing"},
	}
	vers, srcs := environmentVersions(following, steps, false)
	assert.Equal(t, map[string]string{"istio": "1.26.0", "istio-gateway": "1.26.0", "knative": "1.21.1", "kserve": "unknown"}, vers)
	assert.Equal(t, map[string]reportapi.ComponentSource{"istio": reportapi.Found, "istio-gateway": reportapi.Installed, "knative": reportapi.Installed, "kserve": reportapi.Found}, srcs)
}

// A run that creates its kind cluster and installs everything reports the
// pins, the node image included, each as installed.
func TestEnvironmentOfAFreshKindCluster(t *testing.T) {
	steps := []detect.Step{
		{Found: detect.Found{Component: detect.Istio}, Install: true},
		{Found: detect.Found{Component: detect.Ztunnel}, Install: true},
		{Found: detect.Found{Component: detect.CertManager, Installed: true, Version: "v1.15.0"}, Install: true},
	}
	vers, srcs := environmentVersions(versions.Set{NodeImage: pins.NodeImage, Istio: "v1.27.1", CertManager: "v1.16.1", GatewayAPI: "v1.2.0"}, steps, true)
	assert.Equal(t, map[string]string{"istio": "1.27.1", "ztunnel": "1.27.1", "cert-manager": "v1.16.1", "nodeImage": versions.NodeImage134}, vers)
	for k, s := range srcs {
		assert.Equal(t, reportapi.Installed, s, k)
	}
}
