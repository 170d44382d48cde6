package bypass

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
)

// From each client to each port by pod IP: a refusal that names no model
// everywhere but the plaintext ports, which are observed at the path that
// shows what they reveal; application ports also at the model path; a
// second pod's cells say so in their names.
func TestBuild(t *testing.T) {
	pod := loadPod(t, "predictor-pod.yaml")
	target := Target{Workload: "sklearn-iris", Namespace: "user1", Selector: "x", ModelPath: "/v1/models/sklearn-iris", Models: []string{"sklearn-iris"}}
	ports := Enumerate(pod, dataplane.Sidecar)
	outside := matrix.Client{Name: "default"}
	other := matrix.Client{Name: "user2"}
	p := Build("kserve-bypass-paths", []TargetPods{{Target: target, Pods: []Pod{
		{Name: pod.Name, IP: pod.Status.PodIP, Ports: ports},
		{Name: "second", IP: "fd00::5", Ports: ports[:1]},
	}}}, []matrix.Client{outside, other})

	cells := map[string]matrix.Cell{}
	for _, c := range append(p.Enforced.Cells, p.Informational.Cells...) {
		require.NotContains(t, cells, c.Name, "names are unique")
		cells[c.Name] = c
	}
	apps, mesh, info := 5, 8, 3 // per pod: 8080 8012 8112 9090 9091; 8022 and 7 Istio; 15020 15021 15090
	assert.Len(t, p.Enforced.Cells, 2*(2*apps+mesh)+2*2, "two clients; apps twice (/ and the model path); the second pod's 8012 twice")
	assert.Len(t, p.Informational.Cells, 2*info)
	assert.Equal(t, "kserve-bypass-paths-informational", p.Informational.Name)
	assert.Len(t, p.Probes, len(cells))

	c := cells["default-to-sklearn-iris-8080-model"]
	assert.Equal(t, "http://10.244.0.17:8080/v1/models/sklearn-iris", c.Request.URL)
	assert.Equal(t, matrix.AnyRefusal, c.Expect.Kind)
	assert.Equal(t, []string{"sklearn-iris"}, c.Expect.Hides)
	assert.Equal(t, []string{"sklearn-iris"}, c.Request.Find)
	assert.Contains(t, c.Expect.Note, "user-port on kserve-container")
	assert.Equal(t, "http://10.244.0.17:15006/", cells["user2-to-sklearn-iris-15006"].Request.URL)
	assert.NotContains(t, cells, "default-to-sklearn-iris-15006-model", "no model path on the mesh's own ports")
	assert.Equal(t, "http://[fd00::5]:8012/v1/models/sklearn-iris", cells["user2-to-sklearn-iris-pod2-8012-model"].Request.URL)

	i := cells["default-to-sklearn-iris-15090"]
	assert.Equal(t, "http://10.244.0.17:15090/stats/prometheus", i.Request.URL)
	assert.Equal(t, matrix.Observed, i.Expect.Kind)
	assert.Equal(t, "http://10.244.0.17:15021/healthz/ready", cells["user2-to-sklearn-iris-15021"].Request.URL)
	assert.Equal(t, int32(15090), p.Probes[i.Name].Port.Number)

	// A target without a model path gets "/" only; the dry-run sketch has
	// a placeholder IP and the sidecar in sidecar mode only.
	sk := Sketched(Target{Workload: "httpbin"}, dataplane.Sidecar)
	assert.Equal(t, "<pod-ip-of-httpbin>", sk.IP)
	assert.True(t, byNumber(sk.Ports, 15090).Informational)
	assert.False(t, byNumber(Sketched(Target{Workload: "httpbin"}, dataplane.Ambient).Ports, 15090).Declared)
	plain := Build("b", []TargetPods{{Target: Target{Workload: "httpbin"}, Pods: []Pod{sk}}}, []matrix.Client{outside})
	for _, c := range plain.Enforced.Cells {
		assert.NotContains(t, c.Name, "-model")
		assert.Empty(t, c.Expect.Hides)
	}
}
