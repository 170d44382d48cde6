package install

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/capacity"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/detect"
	"github.com/secure-inference/mesh-conformance/tests/upstream"
)

// Knative's figures, recomputed from what the pinned operator really
// installs (its module's kodata for Serving 1.21.1 and net-istio 1.21),
// with the fixture's workloads block applied as the operator applies it
// (by deployment and container name), and from its chart's values.
func TestKnativeRequestsAreTheOperatorsManifests(t *testing.T) {
	dir, err := upstream.ModuleDir("knative.dev/operator", upstream.KnativeModuleVersion(kservePins.KnativeServing))
	require.NoError(t, err, "the operator's Go module is not reachable (module proxy or cache)")
	kodata := filepath.Join(dir, "cmd", "operator", "kodata")
	files, err := filepath.Glob(filepath.Join(kodata, "knative-serving", kservePins.KnativeServing, "*.yaml"))
	require.NoError(t, err)
	istio, err := filepath.Glob(filepath.Join(kodata, "ingress", "1.21", "istio", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	require.NotEmpty(t, istio)

	// The workloads block: deployment -> container -> requests.
	override := map[string]map[string]corev1.ResourceList{}
	objs, err := fixtures.Load("kservemesh/knative-serving.yaml")
	require.NoError(t, err)
	for _, o := range objs {
		if o.GetKind() != "KnativeServing" {
			continue
		}
		var spec struct {
			Workloads []struct {
				Name      string
				Resources []struct {
					Container string
					Requests  corev1.ResourceList
				}
			}
		}
		raw, err := yaml.Marshal(o.Object["spec"])
		require.NoError(t, err)
		require.NoError(t, yaml.Unmarshal(raw, &spec))
		for _, w := range spec.Workloads {
			override[w.Name] = map[string]corev1.ResourceList{}
			for _, r := range w.Resources {
				override[w.Name][r.Container] = r.Requests
			}
		}
	}

	var cpu, mem resource.Quantity
	var names, overridden []string
	for _, f := range append(files, istio...) {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, doc := range strings.Split(string(data), "\n---") {
			var d appsv1.Deployment
			if yaml.Unmarshal([]byte(doc), &d) != nil || d.Kind != "Deployment" {
				continue
			}
			names = append(names, d.Name)
			replicas := int64(1)
			if d.Spec.Replicas != nil {
				replicas = int64(*d.Spec.Replicas)
			}
			for _, c := range d.Spec.Template.Spec.Containers {
				req := c.Resources.Requests
				if o, ok := override[d.Name][c.Name]; ok {
					req = o
					overridden = append(overridden, d.Name)
				}
				for i := int64(0); i < replicas; i++ {
					cpu.Add(req[corev1.ResourceCPU])
					mem.Add(req[corev1.ResourceMemory])
				}
			}
		}
	}
	assert.ElementsMatch(t, []string{"activator", "autoscaler", "controller", "webhook", "autoscaler-hpa", "net-istio-controller", "net-istio-webhook"}, names)
	assert.ElementsMatch(t, []string{"activator", "autoscaler", "controller", "webhook", "net-istio-controller", "net-istio-webhook"}, overridden,
		"six deployments of the workloads block exist in Serving 1.21.1")

	// The operator chart's two deployments.
	values, err := os.ReadFile(filepath.Join(dir, "config", "charts", "knative-operator", "values.yaml"))
	require.NoError(t, err)
	// Its placeholders, filled by Knative's release, are not YAML.
	values = []byte(strings.ReplaceAll(string(values), "{{ tag }}", "placeholder"))
	type deployment struct {
		Resources struct{ Requests corev1.ResourceList }
	}
	var chart struct {
		Values struct {
			Operator deployment `json:"knative_operator"`
			Webhook  deployment `json:"operator_webhook"`
		} `json:"knative_operator"`
	}
	require.NoError(t, yaml.Unmarshal(values, &chart))
	for _, r := range []deployment{chart.Values.Operator, chart.Values.Webhook} {
		require.NotEmpty(t, r.Resources.Requests, "values.yaml: knative_operator.{knative_operator,operator_webhook}.resources.requests")
		cpu.Add(r.Resources.Requests[corev1.ResourceCPU])
		mem.Add(r.Resources.Requests[corev1.ResourceMemory])
	}

	gotCPU, gotMem := capacity.Sum(Requests(detect.Knative, dataplane.Sidecar))
	assert.Equal(t, cpu.MilliValue(), gotCPU.MilliValue(), "CPU: operator chart + Serving 1.21.1 with the workloads block")
	assert.Equal(t, mem.Value(), gotMem.Value(), "memory")
}
