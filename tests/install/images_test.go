package install

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/versions"
)

// images lists every container image of the rendered workloads, and the
// proxy image istiod's injector would give a sidecar or a gateway (its
// values, as JSON, in the istio-sidecar-injector ConfigMap).
func images(objs []map[string]any) []string {
	var out []string
	for _, o := range objs {
		switch o["kind"] {
		case "Deployment", "DaemonSet", "Job":
			for _, list := range []string{"initContainers", "containers"} {
				cs, _ := field(o, "spec", "template", "spec", list).([]any)
				for _, c := range cs {
					if img, _ := field(c.(map[string]any), "image").(string); img != "" && img != "auto" {
						out = append(out, img)
					}
					// cert-manager's controller names the ACME solver's
					// image in its arguments.
					args, _ := field(c.(map[string]any), "args").([]any)
					for _, a := range args {
						if img, ok := strings.CutPrefix(fmt.Sprint(a), "--acme-http01-solver-image="); ok {
							out = append(out, img)
						}
					}
				}
			}
		case "ConfigMap":
			if field(o, "metadata", "name") == "istio-sidecar-injector" {
				vals, _ := field(o, "data", "values").(string)
				out = append(out, injectedHub(vals))
			}
		}
	}
	return out
}

// injectedHub is "<hub>/proxyv2:<tag>" as the injector's values name it.
func injectedHub(valuesJSON string) string {
	hub, tag := jsonString(valuesJSON, "hub"), jsonString(valuesJSON, "tag")
	return fmt.Sprintf("%s/proxyv2:%s", hub, tag)
}

// jsonString finds the first "key": "value" in the injector's values: its
// global block comes first and holds hub and tag.
func jsonString(s, key string) string {
	i := strings.Index(s, `"`+key+`": "`)
	if i < 0 {
		return ""
	}
	rest := s[i+len(key)+5:]
	return rest[:strings.IndexByte(rest, '"')]
}

// --image istio=HUB:TAG reaches every image the Istio charts render,
// istiod's own, the CNI's, ztunnel's and the proxy the injector would add,
// rendered by the real charts; without it none of them is from that hub.
func TestIstioImageOverrideReachesEveryImage(t *testing.T) {
	charts := newOfflineCharts(t)
	const hub, tag = "mirror.example:5000/istio", "lab"
	for _, override := range []bool{true, false} {
		in := installer("opeaistio", opeaPins)
		if override {
			in.Opts.Images = map[string]string{"istio": hub + ":" + tag}
		}
		rels, err := in.istioReleases(dataplane.Ambient)
		require.NoError(t, err)
		seen := 0
		for _, r := range rels {
			ch, _ := charts.chart(r)
			manifest, err := render(ch, r.Namespace, r.Name, r.Values)
			require.NoError(t, err, r.Name)
			for _, img := range images(objects(t, manifest)) {
				seen++
				if override {
					// The profile's variant stays the chart's (ambient
					// sets distroless): a mirror holds the same tags.
					_, got := options.SplitImageRef(img)
					assert.True(t, strings.HasPrefix(img, hub+"/") && (got == tag || strings.HasPrefix(got, tag+"-")),
						"%s renders %s, not from %s with tag %s[-variant]", r.Name, img, hub, tag)
				} else {
					assert.False(t, strings.HasPrefix(img, hub+"/"), "%s renders %s without the override", r.Name, img)
				}
			}
		}
		// pilot, the injector's proxyv2, install-cni, ztunnel.
		assert.Equal(t, 4, seen, "images rendered (override %v)", override)
	}
}

// --image cert-manager=HUB:TAG reaches every image the real cert-manager
// chart renders, at both suites' pins: the controller, webhook, cainjector,
// startupapicheck Job and the ACME solver the controller starts, each
// keeping its image name; without it, none is from that hub.
func TestCertManagerImageOverrideReachesEveryImage(t *testing.T) {
	charts := newOfflineCharts(t)
	const hub, tag = "mirror.example:5000/jetstack", "v1-mirror"
	for _, pins := range []struct {
		suite string
		v     versions.Set
	}{{"kservemesh", kservePins}, {"opeaistio", opeaPins}} {
		for _, override := range []bool{true, false} {
			in := installer(pins.suite, pins.v)
			if override {
				in.Opts.Images = map[string]string{"cert-manager": hub + ":" + tag}
			}
			r, err := in.certManagerRelease()
			require.NoError(t, err)
			ch, _ := charts.chart(r)
			manifest, err := renderWithHooks(ch, r.Namespace, r.Name, r.Values)
			require.NoError(t, err, r.Name)
			var names []string
			for _, img := range images(objects(t, manifest)) {
				repo, got := options.SplitImageRef(img)
				names = append(names, repo[strings.LastIndex(repo, "/")+1:])
				if override {
					assert.True(t, strings.HasPrefix(img, hub+"/") && got == tag, "%s %s renders %s, not from %s:%s", pins.suite, pins.v.CertManager, img, hub, tag)
				} else {
					assert.False(t, strings.HasPrefix(img, hub+"/"), "%s renders %s without the override", pins.suite, img)
				}
			}
			assert.ElementsMatch(t, []string{"cert-manager-controller", "cert-manager-acmesolver", "cert-manager-webhook",
				"cert-manager-cainjector", "cert-manager-startupapicheck"}, names, "%s %s (override %v)", pins.suite, pins.v.CertManager, override)
		}
	}
}
