package install

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/upstream"
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

// --image knative=HUB reaches every image the pinned operator deploys:
// the operator chart's two, rendered by the real chart, and every
// container, caching Image and the queue-sidecar-image of the operator's
// own kodata for Serving 1.21.1 with net-istio, matched against the
// KnativeServing the installer applies the way the operator matches its
// spec.registry.override (deployment/container, then container; an
// Image by name; spec.config merged into the ConfigMaps). Without the
// override none is from that hub.
func TestKnativeImageOverrideReachesEveryImage(t *testing.T) {
	charts := newOfflineCharts(t)
	const hub = "mirror.example:5000/knative"
	tag := "v" + kservePins.KnativeServing
	dir, err := upstream.ModuleDir("knative.dev/operator", upstream.KnativeModuleVersion(kservePins.KnativeServing))
	require.NoError(t, err, "the operator's Go module is not reachable (module proxy or cache)")
	kodata := filepath.Join(dir, "cmd", "operator", "kodata")
	files, _ := filepath.Glob(filepath.Join(kodata, "knative-serving", kservePins.KnativeServing, "*.yaml"))
	istio, _ := filepath.Glob(filepath.Join(kodata, "ingress", "1.21", "istio", "*.yaml"))
	require.NotEmpty(t, files)
	require.NotEmpty(t, istio)
	var manifests []map[string]any
	for _, f := range append(files, istio...) {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		manifests = append(manifests, objects(t, string(data))...)
	}

	for _, override := range []bool{true, false} {
		in := installer("kservemesh", kservePins)
		if override {
			in.Opts.Images = map[string]string{"knative": hub}
		}
		from := func(what, img string) {
			if override {
				assert.True(t, strings.HasPrefix(img, hub+"/") && strings.HasSuffix(img, ":"+tag), "%s runs %s, not from %s:%s", what, img, hub, tag)
			} else {
				assert.False(t, strings.HasPrefix(img, hub+"/"), "%s runs %s without the override", what, img)
			}
		}

		r, err := in.knativeOperatorRelease()
		require.NoError(t, err)
		ch, _ := charts.chart(r)
		manifest, err := render(ch, r.Namespace, r.Name, r.Values)
		require.NoError(t, err)
		chartImages := images(objects(t, manifest))
		assert.Len(t, chartImages, 2, "the operator and its webhook")
		for _, img := range chartImages {
			from("the operator chart", img)
		}

		objs, err := fixtures.Load("kservemesh/knative-serving.yaml")
		require.NoError(t, err)
		require.NoError(t, in.knativeServingObjects(objs))
		var ks map[string]any
		for _, o := range objs {
			if o.GetKind() == "KnativeServing" {
				ks = o.Object
			}
		}
		require.NotNil(t, ks)
		registry, _ := field(ks, "spec", "registry", "override").(map[string]any)
		seen := 0
		for _, o := range manifests {
			name, _ := field(o, "metadata", "name").(string)
			if gen, _ := field(o, "metadata", "generateName").(string); gen != "" {
				name = gen
			}
			switch o["kind"] {
			case "Deployment", "Job":
				cs, _ := field(o, "spec", "template", "spec", "containers").([]any)
				for _, c := range cs {
					cname, _ := field(c.(map[string]any), "name").(string)
					img, _ := field(c.(map[string]any), "image").(string)
					if v, ok := registry[name+"/"+cname].(string); ok {
						img = v
					} else if v, ok := registry[cname].(string); ok {
						img = v
					}
					from(name+"/"+cname, img)
					seen++
				}
			case "Image":
				img, _ := field(o, "spec", "image").(string)
				if v, ok := registry[name].(string); ok {
					img = v
				}
				from("caching Image "+name, img)
				seen++
			case "ConfigMap":
				if name != "config-deployment" {
					continue
				}
				img, _ := field(o, "data", "queue-sidecar-image").(string)
				if v, ok := field(ks, "spec", "config", "deployment", "queue-sidecar-image").(string); ok {
					img = v
				}
				from("config-deployment queue-sidecar-image", img)
				seen++
			}
		}
		// activator, autoscaler, controller, webhook, autoscaler-hpa, the
		// two jobs, net-istio's two, the queue-proxy Image and its config.
		assert.Equal(t, 11, seen, "images in the operator's kodata (override %v)", override)
	}
	for _, name := range knativeServingImages {
		assert.Contains(t, options.ImageComponents["knative"], name, "--image's help names every image a mirror must hold")
	}
}

// --image kserve=HUB:TAG reaches the images an InferenceService of the
// suite runs and the manager's pod, rendered by the real KServe charts:
// the manager (pulled IfNotPresent) and its kube-rbac-proxy (the chart's
// tag, KServeRBACProxyTag), the storage initializer as the
// InferenceService config and the ClusterStorageContainer name it, and the
// sklearn ClusterServingRuntime's container; without it none is from that
// hub and the manager keeps the chart's Always.
func TestKServeImageOverrideReachesEveryImage(t *testing.T) {
	charts := newOfflineCharts(t)
	const hub, tag = "mirror.example:5000/kserve", "v0.20.0-mirror"
	for _, override := range []bool{true, false} {
		in := installer("kservemesh", kservePins)
		if override {
			in.Opts.Images = map[string]string{"kserve": hub + ":" + tag}
		}
		got := map[string]string{}
		pull := ""
		for _, r := range kserveReleases(t, in) {
			if r.Name == "kserve-crd" {
				continue
			}
			ch, _ := charts.chart(r)
			manifest, err := render(ch, r.Namespace, r.Name, r.Values)
			require.NoError(t, err, r.Name)
			for _, o := range objects(t, manifest) {
				name, _ := field(o, "metadata", "name").(string)
				switch o["kind"] {
				case "Deployment":
					cs, _ := field(o, "spec", "template", "spec", "containers").([]any)
					for _, c := range cs {
						cname, _ := field(c.(map[string]any), "name").(string)
						got[name+"/"+cname], _ = field(c.(map[string]any), "image").(string)
						if cname == "manager" {
							pull, _ = field(c.(map[string]any), "imagePullPolicy").(string)
						}
					}
				case "ConfigMap":
					if js, ok := field(o, "data", "storageInitializer").(string); ok {
						var si struct{ Image string }
						require.NoError(t, json.Unmarshal([]byte(js), &si), "inferenceservice-config storageInitializer")
						got["inferenceservice-config storageInitializer"] = si.Image
					}
				case "ClusterStorageContainer":
					got["ClusterStorageContainer "+name], _ = field(o, "spec", "container", "image").(string)
				case "ClusterServingRuntime":
					if name == "kserve-sklearnserver" {
						cs, _ := field(o, "spec", "containers").([]any)
						require.Len(t, cs, 1)
						got["ClusterServingRuntime "+name], _ = field(cs[0].(map[string]any), "image").(string)
					}
				}
			}
		}
		assert.Len(t, got, 5, "manager, kube-rbac-proxy, storage initializer twice, sklearn runtime: %v", got)
		for what, img := range got {
			repo, gotTag := options.SplitImageRef(img)
			want := tag
			if strings.HasSuffix(repo, "/kube-rbac-proxy") {
				want = KServeRBACProxyTag
			}
			if override {
				assert.True(t, strings.HasPrefix(img, hub+"/") && gotTag == want, "%s runs %s, not from %s with tag %s", what, img, hub, want)
			} else {
				assert.False(t, strings.HasPrefix(img, hub+"/"), "%s runs %s without the override", what, img)
				if strings.HasSuffix(repo, "/kube-rbac-proxy") {
					assert.Equal(t, KServeRBACProxyTag, gotTag, "the chart's kube-rbac-proxy tag, which a mirror keeps")
				}
			}
		}
		if override {
			assert.Equal(t, "IfNotPresent", pull, "the manager's pull policy with a mirror or loaded images")
		} else {
			assert.Equal(t, "Always", pull, "the chart's own pull policy for the manager")
		}
	}
}
