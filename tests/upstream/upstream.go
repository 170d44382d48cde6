// Package upstream reads upstream sources at the pinned versions through the
// Go module proxy (no registry, no hand-written copies): the CRDs, the
// Istio and Knative operator charts. The unit tier renders charts from it,
// the API server tier and the lab install from it.
package upstream

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/secure-inference/mesh-conformance/tests/apply"
	"github.com/secure-inference/mesh-conformance/tests/versions"
)

// CRDSource is a Go module that carries upstream CRDs as plain YAML.
type CRDSource struct {
	Module, Version string
	// Globs select the CRD files inside the module.
	Globs []string
	// Chart, when set, is the module's chart directory whose helpers and
	// values render the CRD files: some projects (cert-manager before 1.18)
	// ship their CRDs as Helm templates.
	Chart string
}

// CRDSources are the real upstream CRDs at the suites' pinned versions (k:
// the KServe suite's, o: the OPEA suite's), fetched through the Go module
// proxy (no registry, no hand-written copies). The versions are passed in:
// the install package's own tests use this package, and the suites import
// the install package.
func CRDSources(k, o versions.Set) []CRDSource {
	return []CRDSource{
		{"istio.io/api", "v" + k.Istio, []string{"kubernetes/customresourcedefinitions.gen.yaml"}, ""},
		{"sigs.k8s.io/gateway-api", o.GatewayAPI, []string{"config/crd/standard/*.yaml"}, ""},
		// The OPEA suite is the one that applies cert-manager objects.
		{"github.com/cert-manager/cert-manager", o.CertManager, []string{"deploy/crds/*.yaml"}, "deploy/charts/cert-manager"},
		{"knative.dev/serving", KnativeModuleVersion(k.KnativeServing), []string{"config/core/300-resources/*.yaml"}, ""},
		// KServe's setup deploys Knative Serving through the Knative operator.
		{"knative.dev/operator", KnativeModuleVersion(k.KnativeServing), []string{"config/crd/bases/operator.knative.dev_knativeservings.yaml"}, ""},
		{"github.com/kserve/kserve", k.KServe, []string{"config/crd/full/serving.kserve.io_*.yaml"}, ""},
	}
}

// OfModule keeps the sources of one module: a tier that installs some
// projects' CRDs and not the others' (the API server tier's cert-manager,
// the Knative lab's Istio).
func OfModule(sources []CRDSource, module string) []CRDSource {
	var out []CRDSource
	for _, s := range sources {
		if s.Module == module {
			out = append(out, s)
		}
	}
	return out
}

// IstioModuleVersion is the istio.io/istio module whose charts
// (manifests/charts) the tiers install and render: it has no reachable
// release tag on the module proxy, only master pseudo-versions; its charts
// carry a 1.0.0 placeholder version. The API server tier checks that the
// installer's releases, values and order apply; the pinned release charts
// are tier 4.
const IstioModuleVersion = "v0.0.0-20260827124520-eed52ebb66ad"

// KnativeModuleVersion maps a Knative release (1.21.1) to the Go module
// version of knative.dev/serving (v0.48.1): minor + 27 since Knative 1.0
// (v0.27).
func KnativeModuleVersion(release string) string {
	v := versions.MustParse(release)
	return fmt.Sprintf("v0.%d.%d", v.Minor+27, v.Patch)
}

// KnativeOperatorChart copies the Knative operator chart of a release out
// of knative.dev/operator into dir and fills in its {{ version }} and
// {{ tag }} placeholders, as Knative's release process does before
// publishing the chart. It returns the directory that holds the chart
// folder knative-operator (a directory chart source).
func KnativeOperatorChart(release, dir string) (string, error) {
	mod, err := ModuleDir("knative.dev/operator", KnativeModuleVersion(release))
	if err != nil {
		return "", err
	}
	src, dst := filepath.Join(mod, "config", "charts", "knative-operator"), filepath.Join(dir, "knative-operator")
	err = filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s := strings.NewReplacer("{{ version }}", release, "{{ tag }}", "v"+release).Replace(string(data))
		return os.WriteFile(filepath.Join(dst, rel), []byte(s), 0o644)
	})
	return dir, err
}

// ModuleDir downloads (or finds in the module cache) module@version and
// returns its directory.
func ModuleDir(module, version string) (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", module+"@"+version).Output()
	var info struct{ Dir, Error string }
	_ = json.Unmarshal(out, &info)
	if err != nil || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %v %s", module, version, err, info.Error)
	}
	return info.Dir, nil
}

// LoadCRDs reads every CRD of the sources.
func LoadCRDs(sources []CRDSource) ([]*unstructured.Unstructured, error) {
	var crds []*unstructured.Unstructured
	for _, s := range sources {
		dir, err := ModuleDir(s.Module, s.Version)
		if err != nil {
			return nil, err
		}
		var files []string
		for _, g := range s.Globs {
			m, _ := filepath.Glob(filepath.Join(dir, g))
			files = append(files, m...)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s@%s: no CRD files match %v", s.Module, s.Version, s.Globs)
		}
		sort.Strings(files)
		rendered, err := renderFiles(dir, s, files)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			objs, err := apply.Decode(f, rendered[f])
			if err != nil {
				return nil, err
			}
			for _, o := range objs {
				if o.GetKind() == "CustomResourceDefinition" {
					crds = append(crds, o)
				}
			}
		}
	}
	return crds, nil
}

// renderFiles reads the CRD files, rendering them with the source's chart
// helpers and values (crds.enabled=true) when the source has a Chart.
func renderFiles(dir string, s CRDSource, files []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	if s.Chart == "" {
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			out[f] = data
		}
		return out, nil
	}
	chartDir := filepath.Join(dir, s.Chart)
	ch := &chart.Chart{Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: filepath.Base(chartDir), Version: strings.TrimPrefix(s.Version, "v")}}
	helpers, err := os.ReadFile(filepath.Join(chartDir, "templates", "_helpers.tpl"))
	if err != nil {
		return nil, fmt.Errorf("%s@%s: %w", s.Module, s.Version, err)
	}
	ch.Templates = append(ch.Templates, &chart.File{Name: "templates/_helpers.tpl", Data: helpers})
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		ch.Templates = append(ch.Templates, &chart.File{Name: "templates/" + filepath.Base(f), Data: data})
	}
	valuesData, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return nil, err
	}
	values, err := chartutil.ReadValues(valuesData)
	if err != nil {
		return nil, err
	}
	ch.Values = values
	vals, err := chartutil.ToRenderValues(ch, map[string]any{"crds": map[string]any{"enabled": true}},
		chartutil.ReleaseOptions{Name: s.Chart[strings.LastIndex(s.Chart, "/")+1:], Namespace: "default"}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	rendered, err := engine.Render(ch, vals)
	if err != nil {
		return nil, fmt.Errorf("rendering %s@%s CRDs: %w", s.Module, s.Version, err)
	}
	for _, f := range files {
		out[f] = []byte(rendered[ch.Name()+"/templates/"+filepath.Base(f)])
	}
	return out, nil
}
