package capacity

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func node(name, cpu, mem string, taints ...corev1.Taint) corev1.Node {
	return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}}
}

func container(cpu, mem string) corev1.Container {
	return corev1.Container{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}}
}

func pod(nodeName string, phase corev1.PodPhase, init []corev1.Container, cs ...corev1.Container) corev1.Pod {
	return corev1.Pod{Spec: corev1.PodSpec{NodeName: nodeName, Containers: cs, InitContainers: init}, Status: corev1.PodStatus{Phase: phase}}
}

// kind's control plane on a 4-vCPU, 16 GiB runner: apiserver 250m,
// controller-manager 200m, scheduler 100m, etcd 100m/100Mi, two CoreDNS
// 100m/70Mi.
func runner() Free {
	return compute([]corev1.Node{node("kind-control-plane", "4", "16Gi")}, []corev1.Pod{
		pod("kind-control-plane", corev1.PodRunning, nil, container("250m", "0")),
		pod("kind-control-plane", corev1.PodRunning, nil, container("200m", "0")),
		pod("kind-control-plane", corev1.PodRunning, nil, container("100m", "0")),
		pod("kind-control-plane", corev1.PodRunning, nil, container("100m", "100Mi")),
		pod("kind-control-plane", corev1.PodRunning, nil, container("100m", "70Mi")),
		pod("kind-control-plane", corev1.PodRunning, nil, container("100m", "70Mi")),
		pod("kind-control-plane", corev1.PodSucceeded, nil, container("3", "8Gi")), // done: holds nothing
		pod("", corev1.PodPending, nil, container("3", "8Gi")),                     // unscheduled: holds nothing
	})
}

func TestComputeCountsWhatHoldsTheNodes(t *testing.T) {
	f := runner()
	assert.Equal(t, 1, f.Nodes)
	assert.Equal(t, int64(850), f.RequestedCPU.MilliValue())
	assert.Equal(t, int64(240<<20), f.RequestedMemory.Value())
	assert.Equal(t, int64(3150), f.LargestCPU.MilliValue())

	// An init container larger than the containers sets the pod's request;
	// a smaller one adds nothing.
	cpu, mem := PodRequests(pod("n", corev1.PodRunning, []corev1.Container{container("1", "64Mi")}, container("100m", "128Mi"), container("25m", "0")).Spec)
	assert.Equal(t, int64(1000), cpu.MilliValue())
	assert.Equal(t, int64(128<<20), mem.Value())

	// A native sidecar (restartable init container) adds to the
	// containers; a plain init container started after it counts with it.
	always := corev1.ContainerRestartPolicyAlways
	sidecar := container("100m", "128Mi")
	sidecar.RestartPolicy = &always
	cpu, mem = PodRequests(pod("n", corev1.PodRunning, []corev1.Container{sidecar, container("100m", "100Mi")}, container("50m", "128Mi")).Spec)
	assert.Equal(t, int64(200), cpu.MilliValue(), "init 100m + sidecar 100m beats containers 50m + sidecar 100m")
	assert.Equal(t, int64(256<<20), mem.Value(), "containers 128Mi + sidecar 128Mi")

	// A NoSchedule control plane beside a worker: only the worker counts.
	two := compute([]corev1.Node{node("cp", "4", "8Gi", corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}), node("w", "2", "4Gi")}, nil)
	assert.Equal(t, 1, two.Nodes)
	assert.Equal(t, int64(2000), two.AllocatableCPU.MilliValue())
}

func TestCheck(t *testing.T) {
	small := []Request{Req("istiod", "500m", "2048Mi"), Req("predictor", "175m", "256Mi"), Req("predictor", "175m", "256Mi")}
	require.NoError(t, Check(runner(), small))

	// The sklearn runtime's own 1 CPU per predictor: two do not fit beside
	// istiod and the rest.
	big := append(small, Req("kserve", "200m", "600Mi"), Req("sklearn-iris", "1125m", "2176Mi"), Req("sklearn-iris-burst", "1125m", "2176Mi"))
	err := Check(runner(), big)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CPU: the suite requests 3300m, the nodes have 3150m free (4000m allocatable, 850m already requested)")
	assert.Contains(t, err.Error(), "largest requests: sklearn-iris 1125m/2176Mi, sklearn-iris-burst 1125m/2176Mi, istiod 500m/2048Mi")
	assert.NotContains(t, err.Error(), "memory:", "memory fits")

	// Enough in total across two nodes, but one pod larger than either.
	two := compute([]corev1.Node{node("a", "2", "4Gi"), node("b", "2", "4Gi")}, nil)
	err = Check(two, []Request{Req("model", "3", "1Gi")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "model requests 3000m CPU / 1024Mi, more than any one node has free (at most 2000m / 4096Mi)")
}
