package bypass

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
)

func loadPod(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	var pod corev1.Pod
	require.NoError(t, yaml.UnmarshalStrict(data, &pod))
	return &pod
}

type portView struct {
	Container     string
	Informational bool
	App           bool
	Declared      bool
}

func view(ports []Port) map[int32]portView {
	out := map[int32]portView{}
	for _, p := range ports {
		out[p.Number] = portView{p.Container, p.Informational, p.App, p.Declared}
	}
	return out
}

// A predictor pod with a sidecar: every container port (queue-proxy's and
// istio-proxy's included), queue-proxy's undeclared admin port, and
// Istio's well-known ports; only 15020, 15021 and 15090 are informational.
// In ambient mode the same spec gets ztunnel's in-pod ports and nothing is
// informational (ztunnel captures every port but 15008).
func TestEnumerate(t *testing.T) {
	pod := loadPod(t, "predictor-pod.yaml")
	ports := Enumerate(pod, dataplane.Sidecar)
	got := view(ports)
	app := func(c string) portView { return portView{Container: c, App: true, Declared: true} }
	mesh := portView{Container: IstioProxy}
	assert.Equal(t, map[int32]portView{
		8012: app(QueueProxy), 8112: app(QueueProxy), 9090: app(QueueProxy), 9091: app(QueueProxy),
		8080:  app("kserve-container"),
		8022:  {Container: QueueProxy},
		15000: mesh, 15001: mesh, 15002: mesh, 15004: mesh, 15006: mesh, 15008: mesh, 15053: mesh,
		15020: {Container: IstioProxy, Informational: true},
		15021: {Container: IstioProxy, Informational: true},
		15090: {Container: IstioProxy, Informational: true, Declared: true},
	}, got)
	for i := 1; i < len(ports); i++ {
		assert.Less(t, ports[i-1].Number, ports[i].Number, "sorted, each once")
	}
	for _, p := range ports {
		assert.NotEmpty(t, p.Source, p.Number)
		assert.NotEmpty(t, p.Purpose, p.Number)
		if p.Informational {
			assert.Equal(t, PlaintextPorts[p.Number], p.Path)
		}
	}
	assert.Equal(t, "http-envoy-prom (Envoy Prometheus telemetry)", byNumber(ports, 15090).Purpose)
	assert.Equal(t, QueueProxySource, byNumber(ports, 8022).Source)

	amb := view(Enumerate(pod, dataplane.Ambient))
	assert.Equal(t, portView{Container: "ztunnel (in-pod)"}, amb[15008])
	assert.True(t, byNumber(Enumerate(pod, dataplane.Ambient), 15008).TLS, "ztunnel's HBONE port is probed with TLS")
	assert.False(t, byNumber(ports, 15008).TLS, "the sidecar's 15008 stays a plaintext probe")
	assert.Equal(t, portView{Container: IstioProxy, Declared: true}, amb[15090], "no informational port in ambient mode")
	assert.NotContains(t, amb, int32(15021), "the sidecar's ports are not ztunnel's")
	for n, p := range amb {
		assert.False(t, p.Informational, n)
	}

	// Without a sidecar nothing answers on 15020/15021/15090 by design.
	pod.Spec.Containers = pod.Spec.Containers[:2]
	for n, p := range view(Enumerate(pod, dataplane.Sidecar)) {
		assert.False(t, p.Informational, n)
	}
}

// A native sidecar (an init container with restartPolicy Always) counts as
// the sidecar; UDP ports are not probed; a port the application declares
// on a plaintext number is informational (the sidecar does not capture it
// whoever listens), and keeps its declaring container.
func TestEnumerateNativeSidecar(t *testing.T) {
	ports := Enumerate(loadPod(t, "native-sidecar-pod.yaml"), dataplane.Sidecar)
	got := view(ports)
	assert.Equal(t, portView{Container: "nginx", App: true, Declared: true}, got[8080])
	assert.Equal(t, portView{Container: IstioProxy, Informational: true, Declared: true}, got[15090])
	assert.Equal(t, portView{Container: "nginx", Informational: true, Declared: true}, got[15021])
	assert.NotContains(t, got, int32(5353))
	assert.NotContains(t, got, int32(8022), "no queue-proxy, no admin port")
}

// A target's undeclared application ports (KServe's gRPC 8081 in
// kserve-container) are probed as application ports where the pod has
// that container, and nowhere else.
func TestEnumerateUndeclaredAppPorts(t *testing.T) {
	grpc := Port{Number: 8081, Container: "kserve-container", Purpose: "gRPC (undeclared)", Source: "kserve constants.py"}
	ports := Enumerate(loadPod(t, "predictor-pod.yaml"), dataplane.Sidecar, grpc)
	assert.Equal(t, portView{Container: "kserve-container", App: true}, view(ports)[8081])
	assert.Equal(t, "kserve constants.py", byNumber(ports, 8081).Source)
	assert.NotContains(t, view(Enumerate(loadPod(t, "native-sidecar-pod.yaml"), dataplane.Sidecar, grpc)), int32(8081),
		"a pod without kserve-container")

	// An HTTP/2-only port's cells speak HTTP/2 from the first byte; the
	// others do not.
	grpc.HTTP2 = true
	p := Build("b", []TargetPods{{Target: Target{Workload: "w", ModelPath: "/m"}, Pods: []Pod{{Name: "p", IP: "10.0.0.1",
		Ports: Enumerate(loadPod(t, "predictor-pod.yaml"), dataplane.Sidecar, grpc)}}}}, []matrix.Client{{Name: "c"}})
	for _, c := range p.Enforced.Cells {
		assert.Equal(t, strings.Contains(c.Request.URL, ":8081/"), c.Request.HTTP2, c.Name)
	}
}

func byNumber(ports []Port, n int32) Port {
	for _, p := range ports {
		if p.Number == n {
			return p
		}
	}
	return Port{}
}
