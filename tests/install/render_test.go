package install

import (
	"context"
	"fmt"
	"os"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"sigs.k8s.io/yaml"

	"github.com/secure-inference/mesh-conformance/fixtures"
)

// chatqnaChart loads the chart the light profile is checked against: the
// real ChatQnA chart when MC_CHATQNA_CHART names its directory or .tgz
// (it is only on ghcr.io, out of reach here), else the synthetic one.
func chatqnaChart(t *testing.T) (string, bool) {
	if p := os.Getenv("MC_CHATQNA_CHART"); p != "" {
		return p, true
	}
	return "testdata/chatqna-like", false
}

// The ChatQnA chart's release as suites/opeaistio installs it (chatqna.go):
// the suite imports this package, so its names are repeated here.
const (
	chatqnaNamespace = "chatqna"
	chatqnaNginx     = "chatqna-nginx"
)

func TestLightProfileRendersOnlyNginx(t *testing.T) {
	path, real := chatqnaChart(t)
	ch, err := loader.Load(path)
	require.NoError(t, err)
	values, err := fixtures.Values("opeaistio/chatqna-light.values.yaml")
	require.NoError(t, err)
	if real {
		// The shaped chart has one subchart, so only the real one can say
		// whether every key of the light values is its (values_test.go).
		assert.Empty(t, undeclared(ch, values), "keys of chatqna-light.values.yaml the real chart neither declares nor reads")
	}
	manifest, err := render(ch, chatqnaNamespace, "chatqna", values)
	require.NoError(t, err)
	running, err := runningDeployments(manifest, chatqnaNginx)
	require.NoError(t, err)
	assert.Empty(t, running, "with the light values, only chatqna-nginx may run (real chart: %v)", real)

	// The check can fail: the chart's defaults run everything.
	manifest, err = render(ch, chatqnaNamespace, "chatqna", map[string]any{})
	require.NoError(t, err)
	running, err = runningDeployments(manifest, chatqnaNginx)
	require.NoError(t, err)
	assert.NotEmpty(t, running)
	if !real {
		assert.Equal(t, []string{"chatqna", "chatqna-tgi"}, running)
	}
}

// render renders a chart with values, client-side (no cluster), as Helm
// would install it.
func render(ch *chart.Chart, namespace, name string, values map[string]any) (string, error) {
	rel, err := renderRelease(ch, namespace, name, values)
	if err != nil {
		return "", err
	}
	return rel.Manifest, nil
}

// renderWithHooks is render with the chart's hooks (cert-manager's
// startupapicheck Job among them) appended.
func renderWithHooks(ch *chart.Chart, namespace, name string, values map[string]any) (string, error) {
	rel, err := renderRelease(ch, namespace, name, values)
	if err != nil {
		return "", err
	}
	m := rel.Manifest
	for _, h := range rel.Hooks {
		m += "\n---\n" + h.Manifest
	}
	return m, nil
}

func renderRelease(ch *chart.Chart, namespace, name string, values map[string]any) (*release.Release, error) {
	in := action.NewInstall(&action.Configuration{})
	in.DryRun, in.ClientOnly, in.Replace = true, true, true
	in.ReleaseName, in.Namespace = name, namespace
	in.KubeVersion = &chartutil.KubeVersion{Version: "v1.34.4", Major: "1", Minor: "34"}
	rel, err := in.RunWithContext(context.Background(), ch, values)
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", ch.Name(), err)
	}
	return rel, nil
}

// runningDeployments lists the Deployments of a rendered manifest that would
// run pods (replicas absent, which means 1, or above 0), except keep.
func runningDeployments(manifest string, keep ...string) ([]string, error) {
	kept := map[string]bool{}
	for _, k := range keep {
		kept[k] = true
	}
	var running []string
	for _, doc := range releaseutil.SplitManifests(manifest) {
		var obj struct {
			Kind     string
			Metadata struct{ Name string }
			Spec     struct{ Replicas *int }
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			return nil, err
		}
		if obj.Kind != "Deployment" || kept[obj.Metadata.Name] {
			continue
		}
		if obj.Spec.Replicas == nil || *obj.Spec.Replicas > 0 {
			running = append(running, obj.Metadata.Name)
		}
	}
	sort.Strings(running)
	return running, nil
}
