package cluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

// A kind node's tree as the lab saw it: a pod's cgroup left FROZEN deep
// under the node, and a v2 cgroup frozen beside it.
func TestThawUnderThawsEveryFrozenCgroupParentsFirst(t *testing.T) {
	root := t.TempDir()
	node := filepath.Join(root, "freezer", "docker", "abc")
	write(t, filepath.Join(node, "freezer.state"), "THAWED\n")
	write(t, filepath.Join(node, "kubelet.slice", "freezer.state"), "FREEZING\n")
	write(t, filepath.Join(node, "kubelet.slice", "cri-containerd-1.scope", "freezer.state"), "FROZEN\n")
	write(t, filepath.Join(node, "kubelet.slice", "cri-containerd-2.scope", "freezer.state"), "THAWED\n")
	v2 := filepath.Join(root, "unified", "node")
	write(t, filepath.Join(v2, "cgroup.freeze"), "0\n")
	write(t, filepath.Join(v2, "pod", "cgroup.freeze"), "1\n")

	thawed, err := ThawUnder([]string{node, v2, filepath.Join(root, "gone")})
	require.NoError(t, err)
	assert.Equal(t, []string{
		filepath.Join(v2, "pod"),
		filepath.Join(node, "kubelet.slice"),
		filepath.Join(node, "kubelet.slice", "cri-containerd-1.scope"),
	}, thawed, "shallowest first, frozen and freezing ones only")
	for _, f := range []string{"kubelet.slice/freezer.state", "kubelet.slice/cri-containerd-1.scope/freezer.state"} {
		b, _ := os.ReadFile(filepath.Join(node, f))
		assert.Equal(t, "THAWED", string(b))
	}
	b, _ := os.ReadFile(filepath.Join(v2, "pod", "cgroup.freeze"))
	assert.Equal(t, "0", string(b))

	again, err := ThawUnder([]string{node, v2})
	require.NoError(t, err)
	assert.Empty(t, again, "nothing left to thaw")
}

func TestParseProcCgroupFindsTheFreezingHierarchies(t *testing.T) {
	old := cgroupRoot
	cgroupRoot = "/cg"
	t.Cleanup(func() { cgroupRoot = old })
	f := filepath.Join(t.TempDir(), "cgroup")
	write(t, f, "12:freezer:/docker/abc\n11:memory:/docker/abc\n1:name=systemd:/docker/abc\n0::/system.slice/docker-abc.scope\n")
	fh, err := os.Open(f)
	require.NoError(t, err)
	defer fh.Close()
	assert.Equal(t, []string{"/cg/freezer/docker/abc", "/cg/system.slice/docker-abc.scope"}, parseProcCgroup(fh))
}
