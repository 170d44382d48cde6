package harness

import (
	"strings"

	"github.com/secure-inference/mesh-conformance/tests/detect"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
	"github.com/secure-inference/mesh-conformance/tests/versions"
)

// environmentVersions is what the report says the run ran on, once the plan
// is known: for each component the suite needs, the version this run
// installs (its pin, or for Istio parts added beside an istiod that stays
// as found, that istiod's version) or the one it found and used as it was,
// and which. Pins of components the suite never needs are not listed, and
// the kind node image only when this run created the cluster: a report must
// not claim what the verdicts do not rest on.
func environmentVersions(v versions.Set, steps []detect.Step, createdKind bool) (map[string]string, map[string]reportapi.ComponentSource) {
	vers := map[string]string{}
	srcs := map[string]reportapi.ComponentSource{}
	for _, s := range steps {
		if s.Install {
			vers[s.Component], srcs[s.Component] = pinOf(v, s.Component), reportapi.Installed
			continue
		}
		found := s.Version
		if found == "" {
			found = "unknown"
		}
		vers[s.Component], srcs[s.Component] = found, reportapi.Found
	}
	if createdKind && v.NodeImage != "" {
		vers["nodeImage"], srcs["nodeImage"] = v.NodeImage, reportapi.Installed
	}
	return vers, srcs
}

// pinOf is the version a run installs of a component of the plan.
func pinOf(v versions.Set, component string) string {
	switch detect.ComponentOf(component) {
	case detect.Istio:
		return strings.TrimPrefix(v.Istio, "v")
	case detect.Knative:
		return v.KnativeServing
	case detect.KServe:
		return v.KServe
	case detect.CertManager:
		return v.CertManager
	case detect.GatewayAPI:
		return v.GatewayAPI
	case detect.ChatQnA:
		return v.ChatQnA
	}
	return "unknown"
}
