//go:build lab

package lab

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	kindv1alpha4 "sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

	kindconfig "github.com/secure-inference/mesh-conformance/kind-config"
	"github.com/secure-inference/mesh-conformance/suites/opeaistio"
	"github.com/secure-inference/mesh-conformance/tests/cluster"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

// opeaLabConfig is the lab's kind config (its node cannot run kindnetd)
// with opeaistio.yaml's port mappings, exactly as the suite's file has
// them, on its control plane.
func opeaLabConfig(t *testing.T, hostPort func(cluster.PortMapping) int32) string {
	var lab, opea kindv1alpha4.Cluster
	data, err := kindconfig.FS.ReadFile("lab.yaml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &lab))
	data, err = kindconfig.FS.ReadFile("opeaistio.yaml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &opea))
	lab.Nodes[0].ExtraPortMappings = opea.Nodes[0].ExtraPortMappings
	for i, m := range lab.Nodes[0].ExtraPortMappings {
		lab.Nodes[0].ExtraPortMappings[i].HostPort = hostPort(cluster.PortMapping{ContainerPort: m.ContainerPort, HostPort: m.HostPort})
	}
	out, err := yaml.Marshal(lab)
	require.NoError(t, err)
	f := filepath.Join(t.TempDir(), "opeaistio-lab.yaml")
	require.NoError(t, os.WriteFile(f, out, 0o644))
	return f
}

// A kept cluster of one mode and a new cluster of the other, both made
// from the suite's kind config (on the lab's node): the second is created
// (with fixed host ports it was refused, "port is already allocated"),
// each publishes the gateway's HTTPS node port on a host port of its own,
// and the suite's default ingress address (harness.HostIngressAddress)
// reaches each cluster's own node port. A config that fixes a host port
// the kept cluster holds is refused before anything is created, naming
// the holder's node container and the fix.
func TestKeptClusterOfOneModeAndANewClusterOfTheOther(t *testing.T) {
	// A cluster of its own: it runs beside the other parallel tests
	// (lab_test.go), which touch no cluster of its.
	t.Parallel()
	ctx := context.Background()
	cfg := opeaLabConfig(t, func(m cluster.PortMapping) int32 { return m.HostPort })
	kinds := map[dataplane.Mode]*cluster.Kind{}
	addrs := map[dataplane.Mode]string{}
	for _, mode := range []dataplane.Mode{dataplane.Ambient, dataplane.Sidecar} {
		name := "mc-lab-opea-" + string(mode)
		k := cluster.NewKind(name, os.Getenv("MC_LAB_NODE_IMAGE"), 5*time.Minute, logf)
		kinds[mode] = k
		_, err := k.CreateWithConfig(ctx, cfg)
		t.Cleanup(func() {
			if os.Getenv("MC_LAB_KEEP") == "" && k.Owned() {
				assert.NoError(t, k.Destroy(context.Background()))
			}
		})
		require.NoError(t, err, "%s cluster beside the kept cluster of the other mode", mode)
		require.NoError(t, k.WaitForControlPlane(ctx))
		addr, err := harness.HostIngressAddress(ctx, k, opeaistio.IstioGateway.NodePorts["https"])
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(addr, "127.0.0.1:"), addr)
		addrs[mode] = addr
		logf("%s: the gateway's HTTPS node port %d is on %s", name, opeaistio.IstioGateway.NodePorts["https"], addr)
	}
	assert.NotEqual(t, addrs[dataplane.Ambient], addrs[dataplane.Sidecar], "each cluster has host ports of its own")

	// Each address reaches its own cluster: a stand-in behind the
	// gateway's HTTPS node port answers with its pod's name.
	for mode, k := range kinds {
		for _, img := range strings.Split(os.Getenv("MC_LAB_IMAGES"), ",") {
			if strings.Contains(img, "standin") {
				require.NoError(t, k.LoadImageArchive(ctx, img))
			}
		}
		kc, err := kubernetes.NewForConfig(k.KubernetesRestConfig())
		require.NoError(t, err)
		name := "gateway-" + string(mode)
		_, err = kc.AppsV1().Deployments("default").Create(ctx, onNode(name, "mc-lab-opea-"+string(mode)+"-control-plane", "mesh-conformance.local/standin:lab"), metav1.CreateOptions{})
		require.NoError(t, err)
		_, err = kc.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": name},
				Ports: []corev1.ServicePort{{Port: 443, TargetPort: intstr.FromInt32(80), NodePort: int32(opeaistio.IstioGateway.NodePorts["https"])}}}}, metav1.CreateOptions{})
		require.NoError(t, err)
		_, err = ready.Pod(ctx, kc, "default", "app="+name, 3*time.Minute)
		require.NoError(t, err)
	}
	client := &http.Client{Timeout: 3 * time.Second}
	for mode, addr := range addrs {
		var body string
		require.Eventually(t, func() bool {
			resp, err := client.Get("http://" + addr + "/config_dump")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			body = string(b)
			return resp.StatusCode == http.StatusOK
		}, time.Minute, time.Second, "%s's node port through %s", mode, addr)
		assert.Contains(t, body, `"pod":"gateway-`+string(mode)+`-`, "%s reaches the %s cluster", addr, mode)
	}

	// A config with a fixed host port the kept ambient cluster holds.
	held := addrs[dataplane.Ambient][strings.LastIndex(addrs[dataplane.Ambient], ":")+1:]
	fixed := opeaLabConfig(t, func(m cluster.PortMapping) int32 {
		if m.ContainerPort == int32(opeaistio.IstioGateway.NodePorts["https"]) {
			p, err := strconv.Atoi(held)
			require.NoError(t, err)
			return int32(p)
		}
		return 0
	})
	third := cluster.NewKind("mc-lab-opea-fixed", os.Getenv("MC_LAB_NODE_IMAGE"), time.Minute, logf)
	_, err := third.CreateWithConfig(ctx, fixed)
	t.Cleanup(func() {
		if third.Owned() {
			_ = third.Destroy(context.Background())
		}
	})
	require.Error(t, err)
	logf("refused as it should be: %v", err)
	assert.Contains(t, err.Error(), "host port 127.0.0.1:"+held)
	assert.Contains(t, err.Error(), "held by container mc-lab-opea-ambient-control-plane (a node of the kind cluster mc-lab-opea-ambient)")
	assert.Contains(t, err.Error(), "kind delete cluster --name mc-lab-opea-ambient")
	assert.Contains(t, err.Error(), "nothing was created")
	exists, err := third.Exists()
	require.NoError(t, err)
	assert.False(t, exists, "nothing of the refused cluster was created")
}
