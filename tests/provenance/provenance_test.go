package provenance

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func run(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
}

// The suite's source: a clean tree, one edited outside fixtures/, one whose
// fixtures were edited, and no checkout at all.
func TestSourceOf(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	ctx := context.Background()
	dir := t.TempDir()
	run(t, dir, "git", "init", "-q")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "fixtures"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "fixtures", "auth.yaml"), []byte("kind: A\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README.md"), []byte("r\n"), 0o644))
	run(t, dir, "git", "add", "-A")
	run(t, dir, "git", "commit", "-q", "-m", "x")

	src := SourceOf(ctx, dir)
	assert.Len(t, src.Commit, 40)
	assert.False(t, src.Dirty)
	assert.False(t, src.FixturesEdited)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "README.md"), []byte("changed\n"), 0o644))
	src = SourceOf(ctx, dir)
	assert.True(t, src.Dirty)
	assert.False(t, src.FixturesEdited)
	assert.Equal(t, []string{"README.md"}, src.Changed)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "fixtures", "auth.yaml"), []byte("kind: B\n"), 0o644))
	src = SourceOf(ctx, dir)
	assert.True(t, src.FixturesEdited, "a run whose fixtures were edited says so")

	none := SourceOf(ctx, t.TempDir())
	assert.Empty(t, none.Commit)
	assert.Equal(t, Module, none.Module)
}

func TestDigests(t *testing.T) {
	d, err := Digests(fstest.MapFS{"kservemesh/auth.yaml": {Data: []byte("a")}, "embed.go": {Data: []byte("x")}})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"kservemesh/auth.yaml": "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"}, d)

	chart := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(chart, "Chart.yaml"), []byte("name: c\n"), 0o644))
	one, err := ChartDigest(chart)
	require.NoError(t, err)
	again, _ := ChartDigest(chart)
	assert.Equal(t, one, again)
	require.NoError(t, os.WriteFile(filepath.Join(chart, "values.yaml"), []byte("x: 1\n"), 0o644))
	changed, _ := ChartDigest(chart)
	assert.NotEqual(t, one, changed)
	file, err := ChartDigest(filepath.Join(chart, "Chart.yaml"))
	require.NoError(t, err)
	assert.Len(t, file, 64)
}

func TestClusterOf(t *testing.T) {
	kube := fake.NewSimpleClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system", UID: "uid-1"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.34.11", ContainerRuntimeVersion: "containerd://2.1", OSImage: "Debian"}}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "istio-ca-root-cert", Namespace: "istio-system"}, Data: map[string]string{"root-cert.pem": "a"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "istiod", Namespace: "istio-system"},
			Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"istio.io/rev": "default"}}}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "user1"}, Status: corev1.PodStatus{
			InitContainerStatuses: []corev1.ContainerStatus{{Image: "istio/proxyv2:1.27.1", ImageID: "docker.io/istio/proxyv2@sha256:aa"}},
			ContainerStatuses:     []corev1.ContainerStatus{{Image: "curlimages/curl:8.11.1", ImageID: "docker.io/curlimages/curl@sha256:bb"}, {Image: "x", ImageID: ""}}}},
	)
	c, err := ClusterOf(context.Background(), kube, []string{"user1", "absent"})
	require.NoError(t, err)
	assert.Equal(t, "uid-1", c.KubeSystemUID)
	assert.Equal(t, "v1.34.11", c.Nodes[0].Kubelet)
	assert.Equal(t, "default", c.IstioRevision)
	assert.Equal(t, "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb", c.RootCertSHA256)
	require.Len(t, c.Images, 2, "a container without an image ID yet is left out")
	assert.Equal(t, "docker.io/curlimages/curl@sha256:bb", c.Images[0].ImageID)
}

func TestReproduceRedactsSecretFlags(t *testing.T) {
	assert.Equal(t, []string{"kservemesh.test", "--mode=sidecar", "--hf-token=<redacted>", "--api-key", "<redacted>", "--ready-timeout=5m"},
		Reproduce([]string{"kservemesh.test", "--mode=sidecar", "--hf-token=hf_abc", "--api-key", "k", "--ready-timeout=5m"}))
}
