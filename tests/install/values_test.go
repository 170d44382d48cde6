package install

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/releaseutil"
	"sigs.k8s.io/yaml"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/upstream"
	"github.com/secure-inference/mesh-conformance/tests/versions"
)

// The render test: every Helm release the suites install, with its values
// file from fixtures/<suite>/ as the installer loads it, rendered by Helm's
// engine (render: action.Install, client-only) from a real chart reachable
// offline, and held to that chart in two ways:
//   - every key of the file is one the chart declares (its values.yaml,
//     Istio's _internal_defaults_do_not_set included, a subchart's under
//     its name) or one its templates read (.Values.<path>, as Istio's
//     zzz_profile.yaml reads profile): a key the chart would ignore fails;
//   - every file that sets anything has an effect check on the rendered
//     objects, and the same check fails on a render without the file's
//     values (so it can fail).
//
// The charts, all from Go modules (the module proxy or its cache, as the
// API server tier gets them):
//   - Istio: istio.io/istio's manifests/charts at upstream.IstioModuleVersion,
//     a master snapshot: the proxy serves no release tag, so not the pinned
//     1.27.1 release charts (tier 4 installs those).
//   - KServe: github.com/kserve/kserve's charts at the suite's pin (v0.20.0)
//     and at v0.15.2 for the pre-v0.17 layout (kserve.values.yaml).
//   - cert-manager: github.com/cert-manager/cert-manager's
//     deploy/charts/cert-manager at each suite's pin, assembled as its
//     release does (make/manifests.mk: Chart.yaml from Chart.template.yaml
//     with the version, templates/crds.yaml from deploy/crds/*.yaml); the
//     chart's values.schema.json (no additional properties) applies too.
//   - Knative operator: knative.dev/operator's config/charts with its
//     placeholders filled, as Knative's release does.
//
// Not rendered here from the real chart: ChatQnA (only on ghcr.io). Its
// light values are rendered against the ChatQnA-shaped chart in testdata
// by TestLightProfileRendersOnlyNginx (its effect: only nginx runs), and
// their keys are checked here only when MC_CHATQNA_CHART names the real
// chart: the shaped chart carries one subchart, so it cannot say whether
// tei or data-prep are keys of the real one.

// suiteRelease is one release a suite installs, with the values file it
// came from and the chart's pinned versions.
type suiteRelease struct {
	file string
	rel  Release
}

// suiteReleases lists every release each suite installs, in each of its
// modes, through the installer's own functions.
func suiteReleases(t *testing.T) []suiteRelease {
	t.Helper()
	var out []suiteRelease
	add := func(in *Installer, mode dataplane.Mode, rels ...Release) {
		for _, r := range rels {
			file, err := valuesFile(in.Suite, r.Name, mode)
			require.NoError(t, err)
			out = append(out, suiteRelease{file: file, rel: r})
		}
	}
	must := func(r Release, err error) Release {
		t.Helper()
		require.NoError(t, err)
		return r
	}
	k := installer("kservemesh", kservePins)
	rels, err := k.istioReleases(dataplane.Sidecar, kserveGateway)
	require.NoError(t, err)
	add(k, dataplane.Sidecar, rels...)
	add(k, "", must(k.certManagerRelease()), must(k.knativeOperatorRelease()))
	rels, err = k.kserveReleases()
	require.NoError(t, err)
	add(k, "", rels...)
	// KServe before v0.17 (--kserve-version): the kserve chart.
	old := installer("kservemesh", kservePins.With(versions.Set{KServe: "v0.15.2"}))
	rels, err = old.kserveReleases()
	require.NoError(t, err)
	add(old, "", rels...)

	o := installer("opeaistio", opeaPins)
	for _, mode := range []dataplane.Mode{dataplane.Ambient, dataplane.Sidecar} {
		rels, err := o.istioReleases(mode, opeaGateway)
		require.NoError(t, err)
		add(o, mode, rels...)
	}
	add(o, "", must(o.certManagerRelease()))

	// suites/kserveambient: Istio in both modes, KServe in Standard mode.
	a := installer("kserveambient", kservePins)
	for _, mode := range dataplane.Modes {
		rels, err := a.istioReleases(mode, kserveGateway)
		require.NoError(t, err)
		add(a, mode, rels...)
	}
	add(a, "", must(a.certManagerRelease()))
	rels, err = a.kserveReleases()
	require.NoError(t, err)
	add(a, "", rels...)
	return out
}

// loadedBySuites are values files a suite loads itself: the ChatQnA
// profile's values, which suites/opeaistio installs with its own chart.
var loadedBySuites = []string{"opeaistio/chatqna-light.values.yaml"}

// offlineCharts finds the charts of the releases in Go modules.
type offlineCharts struct {
	t       *testing.T
	loaded  map[string]*chart.Chart
	modules map[string]string
}

func newOfflineCharts(t *testing.T) *offlineCharts {
	return &offlineCharts{t: t, loaded: map[string]*chart.Chart{}, modules: map[string]string{}}
}

func (c *offlineCharts) load(dir string) *chart.Chart {
	c.t.Helper()
	if ch, ok := c.loaded[dir]; ok {
		return ch
	}
	ch, err := loader.Load(dir)
	require.NoError(c.t, err, dir)
	c.loaded[dir] = ch
	return ch
}

func (c *offlineCharts) module(module, version string) string {
	c.t.Helper()
	key := module + "@" + version
	if dir, ok := c.modules[key]; ok {
		return dir
	}
	dir, err := upstream.ModuleDir(module, version)
	require.NoError(c.t, err, "the chart's Go module is not reachable (module proxy or cache)")
	c.modules[key] = dir
	return dir
}

// chart loads a release's chart from its Go module and says which module
// it came from (Istio's charts there carry a 1.0.0 placeholder version).
func (c *offlineCharts) chart(r Release) (*chart.Chart, string) {
	c.t.Helper()
	ref := r.Chart
	switch {
	case ref.Source == options.ChartComponents["istio"]:
		return c.load(filepath.Join(c.module("istio.io/istio", upstream.IstioModuleVersion), "manifests", "charts", istioChartPaths[ref.Name])),
			"istio.io/istio@" + upstream.IstioModuleVersion
	case ref.Source == options.ChartComponents["kserve"]:
		sub := ref.Path
		if sub == "" {
			sub = ref.Name
		}
		return c.load(filepath.Join(c.module("github.com/kserve/kserve", ref.Version), "charts", sub)), "github.com/kserve/kserve@" + ref.Version
	case ref.Name == "cert-manager":
		return c.load(c.certManager(ref.Version)), "github.com/cert-manager/cert-manager@" + ref.Version
	case ref.Name == "knative-operator":
		// The operator chart's URL names its release.
		release := strings.TrimPrefix(path.Base(path.Dir(ref.Source)), "knative-v")
		dir, err := upstream.KnativeOperatorChart(release, c.t.TempDir())
		require.NoError(c.t, err)
		return c.load(filepath.Join(dir, "knative-operator")), "knative.dev/operator@" + upstream.KnativeModuleVersion(release)
	}
	c.t.Fatalf("no offline chart for release %s (%s)", r.Name, ref)
	return nil, ""
}

// certManager assembles cert-manager's chart of a version from its
// module as the release does (make/manifests.mk): the chart folder, a
// Chart.yaml from Chart.template.yaml with version and appVersion set, and
// templates/crds.yaml joining deploy/crds/*.yaml (hack/concat-yaml.sh).
func (c *offlineCharts) certManager(version string) string {
	c.t.Helper()
	mod := c.module("github.com/cert-manager/cert-manager", version)
	src, dst := filepath.Join(mod, "deploy", "charts", "cert-manager"), filepath.Join(c.t.TempDir(), "cert-manager")
	require.NoError(c.t, os.CopyFS(dst, os.DirFS(src)))
	tmpl, err := os.ReadFile(filepath.Join(src, "Chart.template.yaml"))
	require.NoError(c.t, err)
	meta := strings.NewReplacer("version: v0.0.0", "version: "+version, "appVersion: v0.0.0", "appVersion: "+version,
		"{{IS_PRERELEASE}}", "false").Replace(string(tmpl))
	require.NoError(c.t, os.WriteFile(filepath.Join(dst, "Chart.yaml"), []byte(meta), 0o644))
	crds, _ := filepath.Glob(filepath.Join(mod, "deploy", "crds", "*.yaml"))
	require.NotEmpty(c.t, crds)
	sort.Strings(crds)
	var parts []string
	for _, f := range crds {
		data, err := os.ReadFile(f)
		require.NoError(c.t, err)
		parts = append(parts, string(data))
	}
	require.NoError(c.t, os.Chmod(filepath.Join(dst, "templates"), 0o755))
	require.NoError(c.t, os.WriteFile(filepath.Join(dst, "templates", "crds.yaml"), []byte(strings.Join(parts, "\n---\n")), 0o644))
	return dst
}

// declared is what a chart declares as values: its values.yaml, with
// Istio's _internal_defaults_do_not_set (the defaults its zzz_profile.yaml
// template merges) lifted to the top, and each subchart's under its name
// or alias.
func declared(ch *chart.Chart) map[string]any {
	out := map[string]any{}
	for k, v := range ch.Values {
		out[k] = v
	}
	if d, ok := out["_internal_defaults_do_not_set"].(map[string]any); ok {
		delete(out, "_internal_defaults_do_not_set")
		for k, v := range d {
			out[k] = v
		}
	}
	alias := map[string]string{}
	if ch.Metadata != nil {
		for _, d := range ch.Metadata.Dependencies {
			if d.Alias != "" {
				alias[d.Name] = d.Alias
			}
		}
	}
	for _, sub := range ch.Dependencies() {
		name := sub.Name()
		if a, ok := alias[name]; ok {
			name = a
		}
		out[name] = declared(sub)
	}
	return out
}

// templatesRead tells whether one of the chart's templates (or its
// subcharts') reads .Values.<path> (or ($.Values).<path>), the whole key:
// service.typ is not read by .Values.service.type.
func templatesRead(ch *chart.Chart, keyPath string) bool {
	read := regexp.MustCompile(`\.Values\)?\.` + regexp.QuoteMeta(keyPath) + `([^A-Za-z0-9_]|$)`)
	for _, tpl := range ch.Templates {
		if read.Match(tpl.Data) {
			return true
		}
	}
	for _, sub := range ch.Dependencies() {
		if templatesRead(sub, strings.TrimPrefix(keyPath, sub.Name()+".")) {
			return true
		}
	}
	return false
}

// undeclared returns the key paths of values the chart neither declares
// nor reads in a template. Below a key the chart declares empty ({} or
// null, e.g. podAnnotations) anything goes; the items of a list may only
// use keys some item of the chart's default list has.
func undeclared(ch *chart.Chart, values map[string]any) []string {
	var out []string
	var walk func(prefix string, vals, decl map[string]any)
	walk = func(prefix string, vals, decl map[string]any) {
		for k, v := range vals {
			p := prefix + k
			d, ok := decl[k]
			if !ok {
				if !templatesRead(ch, p) {
					out = append(out, p)
				}
				continue
			}
			switch dv := d.(type) {
			case map[string]any:
				if vm, ok := v.(map[string]any); ok && len(dv) > 0 {
					walk(p+".", vm, dv)
				}
			case []any:
				keys := map[string]bool{}
				for _, item := range dv {
					if m, ok := item.(map[string]any); ok {
						for ik := range m {
							keys[ik] = true
						}
					}
				}
				vl, _ := v.([]any)
				for i, item := range vl {
					m, ok := item.(map[string]any)
					if !ok || len(keys) == 0 {
						continue
					}
					for ik := range m {
						if !keys[ik] {
							out = append(out, fmt.Sprintf("%s[%d].%s", p, i, ik))
						}
					}
				}
			}
		}
	}
	walk("", values, declared(ch))
	sort.Strings(out)
	return out
}

// objects decodes a rendered manifest.
func objects(t *testing.T, manifest string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, doc := range releaseutil.SplitManifests(manifest) {
		var o map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(doc), &o))
		if o != nil {
			out = append(out, o)
		}
	}
	return out
}

func object(objs []map[string]any, kind, name string) map[string]any {
	for _, o := range objs {
		meta, _ := o["metadata"].(map[string]any)
		if o["kind"] == kind && meta["name"] == name {
			return o
		}
	}
	return nil
}

func field(o map[string]any, keys ...string) any {
	var cur any = o
	for _, k := range keys {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// effect is what a values file must show in the rendered objects, and the
// values that undo it (a render with them must fail the check).
type effect struct {
	check   func(objs []map[string]any) error
	without map[string]any
}

func exists(kind, name string) func([]map[string]any) error {
	return func(objs []map[string]any) error {
		if object(objs, kind, name) == nil {
			return fmt.Errorf("no %s %s rendered", kind, name)
		}
		return nil
	}
}

func istiodEnv(name, want string) func([]map[string]any) error {
	return func(objs []map[string]any) error {
		d := object(objs, "Deployment", "istiod")
		if d == nil {
			return fmt.Errorf("no Deployment istiod rendered")
		}
		cs, _ := field(d, "spec", "template", "spec", "containers").([]any)
		for _, c := range cs {
			env, _ := c.(map[string]any)["env"].([]any)
			for _, e := range env {
				if em := e.(map[string]any); em["name"] == name {
					if fmt.Sprint(em["value"]) != want {
						return fmt.Errorf("istiod env %s=%v, want %s", name, em["value"], want)
					}
					return nil
				}
			}
		}
		return fmt.Errorf("istiod has no env %s", name)
	}
}

func configData(cm, key, want string) func([]map[string]any) error {
	return func(objs []map[string]any) error {
		got := field(object(objs, "ConfigMap", cm), "data", key)
		if got != want {
			return fmt.Errorf("ConfigMap %s %s=%v, want %s", cm, key, got, want)
		}
		return nil
	}
}

func deploymentMode(want string) func([]map[string]any) error {
	return func(objs []map[string]any) error {
		raw, _ := field(object(objs, "ConfigMap", KServeConfigMap), "data", "deploy").(string)
		var deploy struct{ DefaultDeploymentMode string }
		if err := json.Unmarshal([]byte(raw), &deploy); err != nil {
			return fmt.Errorf("%s deploy is not JSON: %w: %s", KServeConfigMap, err, raw)
		}
		if deploy.DefaultDeploymentMode != want {
			return fmt.Errorf("%s defaultDeploymentMode=%q, want %q", KServeConfigMap, deploy.DefaultDeploymentMode, want)
		}
		return nil
	}
}

// istioVirtualHostDisabled: the ingress JSON of inferenceservice-config
// carries "disableIstioVirtualHost": true, where KServe's ingress
// reconciler reads it.
func istioVirtualHostDisabled(objs []map[string]any) error {
	raw, _ := field(object(objs, "ConfigMap", KServeConfigMap), "data", KServeIngressKey).(string)
	var ingress map[string]any
	if err := json.Unmarshal([]byte(raw), &ingress); err != nil {
		return fmt.Errorf("%s %s is not JSON: %w: %s", KServeConfigMap, KServeIngressKey, err, raw)
	}
	if ingress[KServeDisableVirtualHost] != true {
		return fmt.Errorf("%s %s %s=%v, want true", KServeConfigMap, KServeIngressKey, KServeDisableVirtualHost, ingress[KServeDisableVirtualHost])
	}
	return nil
}

// allOf passes when every check passes.
func allOf(checks ...func([]map[string]any) error) func([]map[string]any) error {
	return func(objs []map[string]any) error {
		for _, c := range checks {
			if err := c(objs); err != nil {
				return err
			}
		}
		return nil
	}
}

// gatewayService: the Service is a NodePort on the three ports, each on
// the gateway's pinned node port (code's, by port name) if it has one.
func gatewayService(g Gateway) func([]map[string]any) error {
	return func(objs []map[string]any) error {
		svc := object(objs, "Service", g.Name)
		if typ := field(svc, "spec", "type"); typ != "NodePort" {
			return fmt.Errorf("Service %s type %v, want NodePort", g.Name, typ)
		}
		got := map[string]string{}
		ports, _ := field(svc, "spec", "ports").([]any)
		for _, p := range ports {
			m := p.(map[string]any)
			np := ""
			if v, ok := m["nodePort"]; ok {
				np = fmt.Sprint(v)
			}
			got[fmt.Sprint(m["name"])] = fmt.Sprintf("%v->%v node %s", m["port"], m["targetPort"], np)
		}
		want := map[string]string{}
		for name, port := range map[string]int{"status-port": 15021, "http2": 80, "https": 443} {
			np := ""
			if n, ok := g.NodePorts[name]; ok {
				np = fmt.Sprint(n)
			}
			want[name] = fmt.Sprintf("%d->%d node %s", port, port, np)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("Service %s ports %v, want %v", g.Name, got, want)
		}
		return nil
	}
}

// clusterIPService: the gateway release's Service is a ClusterIP, on no
// node port (kserveambient's istio-ingressgateway, which is not the
// design's ingress).
func clusterIPService(g Gateway) func([]map[string]any) error {
	return func(objs []map[string]any) error {
		svc := object(objs, "Service", g.Name)
		if typ := field(svc, "spec", "type"); typ != "ClusterIP" {
			return fmt.Errorf("Service %s type %v, want ClusterIP", g.Name, typ)
		}
		return nil
	}
}

// effects of every values file that sets anything (a file without one must
// stay empty).
var effects = map[string]effect{
	"kservemesh/istio-base.values.yaml":           {exists("ValidatingWebhookConfiguration", "istiod-default-validator"), map[string]any{"defaultRevision": ""}},
	"opeaistio/istio-base.values.yaml":            {exists("ValidatingWebhookConfiguration", "istiod-default-validator"), map[string]any{"defaultRevision": ""}},
	"opeaistio/istiod.ambient.values.yaml":        {istiodEnv("PILOT_ENABLE_AMBIENT", "true"), map[string]any{}},
	"opeaistio/istio-cni.values.yaml":             {configData("istio-cni-config", "AMBIENT_ENABLED", "true"), map[string]any{}},
	"kservemesh/istio-ingressgateway.values.yaml": {gatewayService(kserveGateway), map[string]any{}},
	"opeaistio/istio-ingress.values.yaml":         {gatewayService(opeaGateway), map[string]any{}},
	"kservemesh/cert-manager.values.yaml":         {exists("CustomResourceDefinition", "certificates.cert-manager.io"), map[string]any{}},
	"opeaistio/cert-manager.values.yaml":          {exists("CustomResourceDefinition", "certificates.cert-manager.io"), map[string]any{}},
	// Knative and Serverless are the charts' defaults at v0.20.0 and
	// v0.15.2: the control sets another mode. disableIstioVirtualHost is
	// false by default in both (TestKServeValuesDisableTheTopLevelHost
	// shows that part failing on its own).
	"kservemesh/kserve-resources.values.yaml": {allOf(deploymentMode("Knative"), istioVirtualHostDisabled),
		map[string]any{"kserve": map[string]any{"controller": map[string]any{"deploymentMode": "Standard"}}}},
	"kservemesh/kserve.values.yaml": {allOf(deploymentMode("Serverless"), istioVirtualHostDisabled),
		map[string]any{"kserve": map[string]any{"controller": map[string]any{"deploymentMode": "RawDeployment"}}}},
	"kservemesh/kserve-runtime-configs.values.yaml": {exists("ClusterServingRuntime", "kserve-sklearnserver"), map[string]any{}}, // kservemesh.SklearnRuntime
	// suites/kserveambient: KEP-2676's Standard mode, the control the
	// chart's default (Knative).
	"kserveambient/istio-base.values.yaml":             {exists("ValidatingWebhookConfiguration", "istiod-default-validator"), map[string]any{"defaultRevision": ""}},
	"kserveambient/istiod.ambient.values.yaml":         {istiodEnv("PILOT_ENABLE_AMBIENT", "true"), map[string]any{}},
	"kserveambient/istio-cni.values.yaml":              {configData("istio-cni-config", "AMBIENT_ENABLED", "true"), map[string]any{}},
	"kserveambient/istio-ingressgateway.values.yaml":   {clusterIPService(kserveGateway), map[string]any{}},
	"kserveambient/cert-manager.values.yaml":           {exists("CustomResourceDefinition", "certificates.cert-manager.io"), map[string]any{}},
	"kserveambient/kserve-runtime-configs.values.yaml": {exists("ClusterServingRuntime", "kserve-sklearnserver"), map[string]any{}},
	"kserveambient/kserve-resources.values.yaml": {deploymentMode("Standard"),
		map[string]any{"kserve": map[string]any{"controller": map[string]any{"deploymentMode": "Knative"}}}},
}

func TestValuesFilesRenderWithTheirCharts(t *testing.T) {
	charts := newOfflineCharts(t)
	used := map[string]bool{}
	for _, f := range loadedBySuites {
		used[f] = true
	}
	done := map[string]bool{}
	for _, sr := range suiteReleases(t) {
		used[sr.file] = true
		// The same file for the same chart (istio-base in both modes)
		// renders once.
		key := sr.file + " " + sr.rel.Chart.String()
		if done[key] {
			continue
		}
		done[key] = true
		ch, origin := charts.chart(sr.rel)
		t.Run(sr.file+" from "+origin, func(t *testing.T) {
			file, err := fixtures.Values(sr.file)
			require.NoError(t, err)
			assert.Empty(t, undeclared(ch, file), "keys of %s that chart %s %s neither declares in values.yaml nor reads in a template",
				sr.file, ch.Name(), ch.Metadata.Version)
			manifest, err := render(ch, sr.rel.Namespace, sr.rel.Name, sr.rel.Values)
			require.NoError(t, err, "rendering %s with %s", sr.rel.Name, sr.file)
			e, ok := effects[sr.file]
			if !ok {
				assert.Empty(t, file, "%s sets values but has no effect check in this test: add one", sr.file)
				return
			}
			require.NoError(t, e.check(objects(t, manifest)), "the rendered effect of %s", sr.file)
			// The check can fail: without the file's values it does.
			control, err := render(ch, sr.rel.Namespace, sr.rel.Name, e.without)
			require.NoError(t, err)
			assert.Error(t, e.check(objects(t, control)), "the effect check of %s passes without its values, so it proves nothing", sr.file)
		})
	}

	// Every values file belongs to a release: a misnamed file would
	// otherwise sit unused while the installer fails or takes another.
	var files []string
	require.NoError(t, fs.WalkDir(fixtures.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".values.yaml") {
			files = append(files, p)
		}
		return err
	}))
	for _, f := range files {
		assert.True(t, used[f], "%s is no release's values file", f)
		// A mode's file and a file for every mode would be ambiguous.
		for _, mode := range []dataplane.Mode{dataplane.Ambient, dataplane.Sidecar} {
			if plain, ok := strings.CutSuffix(f, "."+string(mode)+".values.yaml"); ok {
				_, err := fs.Stat(fixtures.FS, plain+".values.yaml")
				assert.Error(t, err, "%s and %s.values.yaml both exist", f, plain)
			}
		}
	}
}

// The real kserve charts (v0.20.0's kserve-resources, v0.15.2's kserve)
// render inferenceservice-config with "disableIstioVirtualHost": true from
// the fixtures' values, and with the chart's default false when only that
// value is left out: the ConfigMap Helm owns carries the document's
// setting, so a rerun's helm upgrade keeps it.
func TestKServeValuesDisableTheTopLevelHost(t *testing.T) {
	charts := newOfflineCharts(t)
	for _, in := range []*Installer{installer("kservemesh", kservePins), installer("kservemesh", kservePins.With(versions.Set{KServe: "v0.15.2"}))} {
		rels, err := in.kserveReleases()
		require.NoError(t, err)
		rel := rels[1] // kserve-resources, or v0.15's kserve
		ch, origin := charts.chart(rel)
		t.Run(origin, func(t *testing.T) {
			manifest, err := render(ch, rel.Namespace, rel.Name, rel.Values)
			require.NoError(t, err)
			require.NoError(t, istioVirtualHostDisabled(objects(t, manifest)))

			var without map[string]any
			data, err := json.Marshal(rel.Values)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(data, &without))
			delete(without["kserve"].(map[string]any)["controller"].(map[string]any), "gateway")
			manifest, err = render(ch, rel.Namespace, rel.Name, without)
			require.NoError(t, err)
			assert.ErrorContains(t, istioVirtualHostDisabled(objects(t, manifest)), "disableIstioVirtualHost=false, want true")
		})
	}
}

// The key check can fail: keys a chart would ignore are named.
func TestUndeclaredValuesAreNamed(t *testing.T) {
	gw, _ := newOfflineCharts(t).chart(installer("opeaistio", opeaPins).NewRelease("g", "ns", ChartRef{Source: options.ChartComponents["istio"], Name: "gateway"}, nil))
	assert.Equal(t, []string{"servce", "service.ports[0].nodeport", "service.typ"}, undeclared(gw, map[string]any{
		"servce":  map[string]any{"type": "NodePort"},
		"service": map[string]any{"typ": "NodePort", "type": "NodePort", "ports": []any{map[string]any{"name": "http2", "nodeport": 30080}}},
	}))
	assert.Empty(t, undeclared(gw, map[string]any{"profile": "ambient", "env": map[string]any{"ANY": "thing"}}),
		"profile is read by zzz_profile.yaml; env is declared empty (free-form)")
}

// A values file is required for every release, and node ports must name
// ports the file has.
func TestValuesFileLookup(t *testing.T) {
	f, err := valuesFile("opeaistio", "istiod", dataplane.Ambient)
	require.NoError(t, err)
	assert.Equal(t, "opeaistio/istiod.ambient.values.yaml", f)
	f, err = valuesFile("kservemesh", "istiod", dataplane.Sidecar)
	require.NoError(t, err)
	assert.Equal(t, "kservemesh/istiod.values.yaml", f, "no mode's file: the plain one")
	_, err = valuesFile("kservemesh", "no-such-release", "")
	assert.ErrorContains(t, err, "tried kservemesh/no-such-release.values.yaml")
	_, err = valuesFile("", "istiod", dataplane.Ambient)
	assert.ErrorContains(t, err, "Installer.Suite")
	_, err = installer("", opeaPins).istioReleases(dataplane.Ambient, opeaGateway)
	assert.Error(t, err)

	values := map[string]any{"service": map[string]any{"ports": []any{map[string]any{"name": "http2", "port": 80}}}}
	assert.ErrorContains(t, pinNodePorts(values, map[string]int{"https": 30443}), `no port named "https"`)
}
