//go:build lab

package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secure-inference/mesh-conformance/suites/kservemesh"
	"github.com/secure-inference/mesh-conformance/tests/cluster"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// Faults users meet during a run, each shown to end as the suite promises:
// a cell's verdict comes only from what the cluster did; what the
// environment did is reported as such; nothing is leaked.

// afterExec runs hook once, after the first exec returned.
type afterExec struct {
	probe.Executor
	once sync.Once
	hook func()
}

func (a *afterExec) Exec(ctx context.Context, pod probe.Pod, cmd []string) ([]byte, []byte, error) {
	out, errOut, err := a.Executor.Exec(ctx, pod, cmd)
	a.once.Do(a.hook)
	return out, errOut, err
}

func faultSettings() matrix.Settings {
	s := labSettings()
	s.MaxTimeToConsistency, s.RequiredConsecutiveSuccesses, s.RoundInterval = 2*time.Minute, 4, time.Second
	return s
}

// A client pod killed mid-matrix: its Deployment brings a new one, the
// engine finds it by selector, and the matrix converges; the lost round is
// counted, not judged.
func TestAKilledClientPodIsReplacedMidMatrix(t *testing.T) {
	ctx := context.Background()
	m := kservemesh.Isolation().Only("lab-client-killed", "user1-to-sklearn-iris-status")
	old, err := resolve(ctx, kservemesh.ClientUser1)
	require.NoError(t, err)
	ex := &afterExec{Executor: exec_, hook: func() {
		zero := int64(0)
		assert.NoError(t, kube.CoreV1().Pods(old.Namespace).Delete(ctx, old.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}))
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if _, err := kube.CoreV1().Pods(old.Namespace).Get(ctx, old.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
				return
			}
		}
		t.Errorf("pod %s was not gone within a minute", old.Name)
	}}
	res := matrix.Run(ctx, m, ex, resolve, faultSettings())
	t.Log("\n" + res.Table())
	require.True(t, res.Passed(), "the matrix converges on the new pod")
	c := res.Cells[0]
	assert.GreaterOrEqual(t, c.EnvErrors, 1, "the round in the killed pod is an environment error")
	assert.Contains(t, c.LastEnvError, old.Name, "the error names the pod")
	now, err := resolve(ctx, kservemesh.ClientUser1)
	require.NoError(t, err)
	assert.NotEqual(t, old.Name, now.Name)
}

// The API server unreachable for a few seconds (the control-plane node
// paused, as a stalled VM or engine does): execs in flight fail or stall,
// and the matrix resumes once it answers again.
func TestAPIServerPauseIsWaitedOut(t *testing.T) {
	ctx := context.Background()
	node := clusterName + "-control-plane"
	unpause := func() { _ = exec.Command("docker", "unpause", node).Run() }
	t.Cleanup(unpause)
	paused := make(chan struct{})
	ex := &afterExec{Executor: exec_, hook: func() {
		go func() {
			defer close(paused)
			if out, err := exec.Command("docker", "pause", node).CombinedOutput(); err != nil {
				t.Errorf("docker pause: %v: %s", err, out)
				return
			}
			time.Sleep(8 * time.Second)
			unpause()
		}()
	}}
	m := kservemesh.Isolation().Only("lab-apiserver-paused", "user1-to-sklearn-iris-status", "default-to-sklearn-iris-burst-status")
	start := time.Now()
	res := matrix.Run(ctx, m, ex, resolve, faultSettings())
	<-paused
	t.Logf("converged in %s\n%s", time.Since(start).Round(time.Millisecond), res.Table())
	require.True(t, res.Passed(), "the matrix resumes after the pause")
	for _, c := range res.Cells {
		t.Logf("%s: %d environment error(s): %s", c.Name, c.EnvErrors, c.LastEnvError)
		assert.False(t, c.EnvironmentError)
	}
}

// A node whose cgroup under it is FROZEN (a runc in the node stopped
// between freeze and thaw) cannot be killed by Docker; deleting the cluster
// thaws it first, says so, and leaves nothing behind.
func TestDeletingAClusterThawsFrozenCgroups(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var logs []string
	capture := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logs = append(logs, fmt.Sprintf(format, args...))
		logf(format, args...)
	}
	const name = "mc-lab-frozen"
	k := cluster.NewKind(name, os.Getenv("MC_LAB_NODE_IMAGE"), 5*time.Minute, capture)
	_, err := k.CreateWithConfig(ctx, filepath.Join(repoRoot(), "kind-config", "lab.yaml"))
	require.NoError(t, err)
	t.Cleanup(func() {
		if containersOf(t, name) != "" {
			_ = k.Destroy(ctx)
		}
	})
	frozen := freezeAPod(t, name+"-control-plane")
	t.Logf("froze %s", frozen)

	require.NoError(t, k.Destroy(ctx), "the deletion thaws, then removes the node")
	mu.Lock()
	all := strings.Join(logs, "\n")
	mu.Unlock()
	assert.Contains(t, all, "frozen cgroup(s)")
	assert.Contains(t, all, frozen)
	assert.Empty(t, containersOf(t, name), "nothing of the cluster is left")
}

// freezeAPod freezes the cgroup v1 freezer of one running container inside
// a kind node (as runc leaves it when killed mid-update) and returns its
// directory.
func freezeAPod(t *testing.T, node string) string {
	out, err := exec.Command("docker", "inspect", "--format", "{{.State.Pid}}", node).Output()
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	require.NoError(t, err)
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	require.NoError(t, err)
	var root string
	for _, line := range strings.Split(string(cg), "\n") {
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && parts[1] == "freezer" {
			root = filepath.Join("/sys/fs/cgroup/freezer", parts[2])
		}
	}
	if root == "" {
		t.Skip("no cgroup v1 freezer on this machine: the frozen-cgroup race cannot happen here")
	}
	var target string
	for deadline := time.Now().Add(2 * time.Minute); target == "" && time.Now().Before(deadline); time.Sleep(time.Second) {
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() || !strings.Contains(p, "kubepods") || target != "" {
				return nil
			}
			procs, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
			entries, _ := os.ReadDir(p)
			leaf := true
			for _, e := range entries {
				if e.IsDir() {
					leaf = false
				}
			}
			if leaf && strings.TrimSpace(string(procs)) != "" {
				target = p
			}
			return nil
		})
	}
	require.NotEmpty(t, target, "no running container cgroup under %s", root)
	require.NoError(t, os.WriteFile(filepath.Join(target, "freezer.state"), []byte("FROZEN"), 0))
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if state, _ := os.ReadFile(filepath.Join(target, "freezer.state")); strings.TrimSpace(string(state)) == "FROZEN" {
			return target
		}
	}
	t.Fatalf("%s did not freeze", target)
	return ""
}
