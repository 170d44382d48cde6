package install

import (
	"context"
	"fmt"
	"sort"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	"sigs.k8s.io/yaml"
)

// Render renders a chart with values, client-side (no cluster), as Helm
// would install it.
func Render(ch *chart.Chart, namespace, name string, values map[string]any) (string, error) {
	in := action.NewInstall(&action.Configuration{})
	in.DryRun, in.ClientOnly, in.Replace = true, true, true
	in.ReleaseName, in.Namespace = name, namespace
	in.KubeVersion = &chartutil.KubeVersion{Version: "v1.34.4", Major: "1", Minor: "34"}
	rel, err := in.RunWithContext(context.Background(), ch, values)
	if err != nil {
		return "", fmt.Errorf("rendering %s: %w", ch.Name(), err)
	}
	return rel.Manifest, nil
}

// RunningDeployments lists the Deployments of a rendered manifest that would
// run pods (replicas absent, which means 1, or above 0), except keep.
func RunningDeployments(manifest string, keep ...string) ([]string, error) {
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
