// Package versions is the version set a suite pins (each suite declares its
// own, taken from the document it reproduces; options override any field),
// the kind node image, and the minimum versions the suites can run on.
package versions

import (
	"fmt"
	"strconv"
	"strings"
)

// Set is one combination of component versions.
type Set struct {
	// NodeImage is the kind node image (Kubernetes version) for kind runs.
	NodeImage      string `yaml:"nodeImage"`
	Istio          string `yaml:"istio"`
	CertManager    string `yaml:"certManager"`
	GatewayAPI     string `yaml:"gatewayAPI"`
	KnativeServing string `yaml:"knativeServing"`
	KServe         string `yaml:"kserve"`
	ChatQnA        string `yaml:"chatqna"`
}

// NodeImage134 is the Kubernetes 1.34 node image built for kind v0.33.0
// (the kind library go.mod pins), by tag and digest as its release notes
// list it: https://github.com/kubernetes-sigs/kind/releases/tag/v0.33.0
// ("Images pre-built for this release: v1.34.11:
// kindest/node:v1.34.11@sha256:44e2..."). kind's own default there is
// v1.37.0, outside Istio 1.27's supported range (1.29 - 1.33, its CI runs
// kind-node v1.33.1). kind v0.33.0 builds no 1.33 image, and an image built
// for another kind release is not guaranteed to work with it; 1.34 is what
// KServe v0.20 tests on (kind v0.30) and the closest to Istio 1.27's range
// that this kind release builds. The lab runs Kubernetes 1.34 too.
const NodeImage134 = "kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d"

// With returns s with every non-empty field of o in place of its own.
func (s Set) With(o Set) Set {
	pick := func(a, b string) string {
		if b != "" {
			return b
		}
		return a
	}
	return Set{
		NodeImage:      pick(s.NodeImage, o.NodeImage),
		Istio:          pick(s.Istio, o.Istio),
		CertManager:    pick(s.CertManager, o.CertManager),
		GatewayAPI:     pick(s.GatewayAPI, o.GatewayAPI),
		KnativeServing: pick(s.KnativeServing, o.KnativeServing),
		KServe:         pick(s.KServe, o.KServe),
		ChatQnA:        pick(s.ChatQnA, o.ChatQnA),
	}
}

// Minimum versions the suites can run on, and why.
const (
	// MinIstio: the fixtures use networking.istio.io/v1 and
	// security.istio.io/v1, served since Istio 1.22.
	MinIstio = "1.22.0"
	// MinIstioAmbient: ambient mode is GA from Istio 1.24.
	MinIstioAmbient = "1.24.0"
)

// CheckIstio refuses Istio versions the suites cannot run on.
func CheckIstio(version string, ambient bool) error {
	v, err := Parse(version)
	if err != nil {
		return fmt.Errorf("istio version: %w", err)
	}
	if v.Less(MustParse(MinIstio)) {
		return fmt.Errorf("istio %s is not supported: the suites apply networking.istio.io/v1 and security.istio.io/v1, served from Istio %s; choose --istio-version %s or newer", version, MinIstio, MinIstio)
	}
	if ambient && v.Less(MustParse(MinIstioAmbient)) {
		return fmt.Errorf("istio %s is not supported in ambient mode: ambient is GA from Istio %s; choose --istio-version %s or newer, or --mode=sidecar", version, MinIstioAmbient, MinIstioAmbient)
	}
	return nil
}

// Version is a parsed major.minor.patch (a leading "v" is allowed).
type Version struct{ Major, Minor, Patch int }

// Parse reads "1.27.1" or "v1.27.1".
func Parse(s string) (Version, error) {
	parts := strings.Split(strings.TrimPrefix(s, "v"), ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("%q is not a version of the form 1.27.1", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return Version{}, fmt.Errorf("%q is not a version of the form 1.27.1", s)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

// MustParse is Parse for constants.
func MustParse(s string) Version {
	v, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

// Less orders versions.
func (v Version) Less(o Version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor < o.Minor
	}
	return v.Patch < o.Patch
}
