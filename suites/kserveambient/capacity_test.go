package kserveambient

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/secure-inference/mesh-conformance/suites/kservemesh"
	"github.com/secure-inference/mesh-conformance/tests/capacity"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/detect"
	"github.com/secure-inference/mesh-conformance/tests/install"
)

// The predictor pod as the scheduler counts it: in ambient mode the
// storage initializer's 100m outweighs the model server's 50m, and the
// model server's 128Mi the initializer's 100Mi; with a sidecar the
// initializer runs beside istio-proxy (200m), and the running pod holds
// 256Mi.
func TestPredictorPodRequests(t *testing.T) {
	for mode, want := range map[dataplane.Mode][2]int64{dataplane.Ambient: {100, 128}, dataplane.Sidecar: {200, 256}} {
		cpu, mem := capacity.PodRequests(predictorPod(mode))
		assert.Equal(t, want[0], cpu.MilliValue(), mode)
		assert.Equal(t, want[1]<<20, mem.Value(), mode)
	}
	assert.Len(t, Workloads(dataplane.Ambient), 3, "the predictor, the ingress and the waypoint; ambient clients request nothing")
	assert.Len(t, Workloads(dataplane.Sidecar), 5, "the predictor, the ingress and three sidecars")
}

// On a 4-vCPU runner's kind node (the control plane's 850m already
// requested) the suite fits in either mode, with 1400m CPU; a 2-vCPU
// node's 1150m left would not hold it.
func TestRequestsFitA4CPURunner(t *testing.T) {
	free := capacity.Free{Nodes: 1, AllocatableCPU: resource.MustParse("4"), AllocatableMemory: resource.MustParse("16Gi"),
		RequestedCPU: resource.MustParse("850m"), RequestedMemory: resource.MustParse("240Mi"),
		LargestCPU: resource.MustParse("3150m"), LargestMemory: resource.MustParse("15Gi")}
	for _, mode := range []dataplane.Mode{dataplane.Ambient, dataplane.Sidecar} {
		var need []capacity.Request
		for _, c := range []string{detect.Istio, detect.CertManager, detect.KServe} {
			need = append(need, install.Requests(c, mode, kservemesh.IstioGateway)...)
		}
		need = append(need, Workloads(mode)...)
		cpu, mem := capacity.Sum(need)
		t.Logf("%s: %dm CPU / %dMi", mode, cpu.MilliValue(), mem.Value()>>20)
		assert.Equal(t, int64(1400), cpu.MilliValue(), mode)
		require.NoError(t, capacity.Check(free, need), mode)
		small := free
		small.AllocatableCPU, small.LargestCPU = resource.MustParse("2"), resource.MustParse("1150m")
		assert.Error(t, capacity.Check(small, need), mode)
	}
}
