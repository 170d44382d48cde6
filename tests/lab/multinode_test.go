//go:build lab

package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/secure-inference/mesh-conformance/tests/cluster"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

// podNetwork gives each node its own pod CIDR in its bridge CNI config and
// a route to every peer's pod CIDR through the peer's node address: what
// kindnetd does, which cannot be pulled here. Pods that got an address
// before (CoreDNS) are restarted.
func podNetwork(ctx context.Context, t *testing.T, kube kubernetes.Interface) {
	var nodes []corev1.Node
	require.Eventually(t, func() bool {
		list, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		for _, n := range list.Items {
			if n.Spec.PodCIDR == "" {
				return false
			}
		}
		nodes = list.Items
		return len(nodes) > 1
	}, 2*time.Minute, time.Second, "every node gets a pod CIDR from the controller manager")
	addr := func(n corev1.Node) string {
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				return a.Address
			}
		}
		return ""
	}
	for _, n := range nodes {
		conf := strings.Replace(bridgeConf, "SUBNET", n.Spec.PodCIDR, 1)
		script := fmt.Sprintf("cat > /etc/cni/net.d/10-mc-bridge.conflist <<'EOF'\n%s\nEOF\n", conf)
		for _, peer := range nodes {
			if peer.Name != n.Name {
				script += fmt.Sprintf("ip route replace %s via %s\n", peer.Spec.PodCIDR, addr(peer))
			}
		}
		out, err := exec.Command("docker", "exec", n.Name, "sh", "-c", script).CombinedOutput()
		require.NoError(t, err, string(out))
		t.Logf("node %s: pods on %s", n.Name, n.Spec.PodCIDR)
	}
	require.NoError(t, kube.CoreV1().Pods("kube-system").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "k8s-app=kube-dns"}))
	require.NoError(t, ready.Deployments(ctx, kube, "kube-system", "k8s-app=kube-dns", 3*time.Minute))
}

const bridgeConf = `{"cniVersion": "1.0.0", "name": "mc-bridge", "plugins": [
 {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
  "ipam": {"type": "host-local", "ranges": [[{"subnet": "SUBNET"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
 {"type": "portmap", "capabilities": {"portMappings": true}}, {"type": "loopback"}]}`

func onNode(name, node, image string, args ...string) *appsv1.Deployment {
	one := int32(1)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}}, Spec: corev1.PodSpec{
				NodeName:    node,
				Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
				Containers:  []corev1.Container{{Name: name, Image: image, ImagePullPolicy: corev1.PullIfNotPresent, Args: args}},
			}}},
	}
}

// TestMultiNodePodTraffic: a client on the control plane reaches a server on
// the worker by pod address and by Service name. Opt in with
// MC_LAB_MULTINODE=1 (make lab-multinode).
func TestMultiNodePodTraffic(t *testing.T) {
	if os.Getenv("MC_LAB_MULTINODE") == "" {
		t.Skip("opt in with MC_LAB_MULTINODE=1 (make lab-multinode)")
	}
	ctx := context.Background()
	k := cluster.NewKind("mc-lab-2node", os.Getenv("MC_LAB_NODE_IMAGE"), 5*time.Minute, logf)
	_, err := k.CreateWithConfig(ctx, filepath.Join(repoRoot(), "kind-config", "lab-2node.yaml"))
	require.NoError(t, err)
	t.Cleanup(func() {
		if os.Getenv("MC_LAB_KEEP") == "" {
			_ = k.Destroy(ctx)
		}
	})
	for _, img := range strings.Split(os.Getenv("MC_LAB_IMAGES"), ",") {
		require.NoError(t, k.LoadImageArchive(ctx, img))
	}
	kube2, err := kubernetes.NewForConfig(k.KubernetesRestConfig())
	require.NoError(t, err)
	podNetwork(ctx, t, kube2)

	server := onNode("standin", "mc-lab-2node-worker", "mesh-conformance.local/standin:lab")
	client := onNode("client", "mc-lab-2node-control-plane", "mesh-conformance.local/curl:lab")
	for _, d := range []*appsv1.Deployment{server, client} {
		_, err := kube2.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	_, err = kube2.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "standin", Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "standin"}, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	srv, err := ready.Pod(ctx, kube2, "default", "app=standin", 3*time.Minute)
	require.NoError(t, err)
	cli, err := ready.Pod(ctx, kube2, "default", "app=client", 3*time.Minute)
	require.NoError(t, err)
	require.NotEqual(t, srv.Spec.NodeName, cli.Spec.NodeName)

	ex := probe.PodExecutor{Config: k.KubernetesRestConfig(), Client: kube2}
	reqs := []probe.Request{{URL: "http://" + srv.Status.PodIP + "/get"}, {URL: "http://standin.default.svc.cluster.local/get"}}
	require.Eventually(t, func() bool {
		outs, err := probe.Run(ctx, ex, probe.Pod{Namespace: "default", Name: cli.Name, Container: "client"}, reqs, 3*time.Second)
		if err != nil {
			return false
		}
		for _, o := range outs {
			if o.Kind != probe.KindHTTP || o.HTTPCode != 200 {
				t.Logf("not yet: %s", o.Detail())
				return false
			}
		}
		return true
	}, time.Minute, 2*time.Second, "pod-to-pod and Service traffic across nodes")
	t.Logf("client %s on %s reached server %s (%s) on %s", cli.Name, cli.Spec.NodeName, srv.Name, srv.Status.PodIP, srv.Spec.NodeName)
}
