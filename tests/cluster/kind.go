// Package cluster provides the clusters a run uses: a kind cluster created
// (or reused) through the sigs.k8s.io/kind library, so no kind CLI is
// needed.
package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindlog "sigs.k8s.io/kind/pkg/log"
)

// Kind is a kind cluster managed through the kind library.
type Kind struct {
	name, image string
	timeout     time.Duration
	kubeconfig  string
	// Created is true when this run created the cluster (so it may delete
	// it), false when it reused one of the same name.
	Created bool
	// creating is set while kind creates the cluster, so that an interrupt
	// in the middle still deletes what was started.
	creating atomic.Bool
	provider *kindcluster.Provider
	rest     *rest.Config
	logf     func(string, ...any)
}

// NewKind returns a provider for the named cluster; logf receives kind's
// progress (nil discards it).
func NewKind(name, nodeImage string, timeout time.Duration, logf func(string, ...any)) *Kind {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Kind{name: name, image: nodeImage, timeout: timeout, logf: logf,
		provider: kindcluster.NewProvider(kindcluster.ProviderWithDocker(), kindcluster.ProviderWithLogger(kindLogger{logf}))}
}

// checkDocker fails with a message naming the fix when kind cannot run.
func checkDocker(ctx context.Context) error {
	if _, err := exec.LookPath("docker"); err != nil {
		return fmt.Errorf("docker is not installed: kind runs cluster nodes as Docker containers; install Docker, or pass --kubeconfig to use an existing cluster")
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		return fmt.Errorf("the Docker engine is not reachable (docker info: %s): start dockerd, or pass --kubeconfig to use an existing cluster", strings.TrimSpace(string(out)))
	}
	return nil
}

// CreateWithConfig creates the cluster from a kind config file, or reuses a
// running cluster of the same name. The kubeconfig is written to its own
// file: the user's ~/.kube/config is never touched.
func (k *Kind) CreateWithConfig(ctx context.Context, configFile string) (string, error) {
	if err := checkDocker(ctx); err != nil {
		return "", err
	}
	dir := filepath.Join(os.TempDir(), "mesh-conformance")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	k.kubeconfig = filepath.Join(dir, k.name+".kubeconfig")
	existing, err := k.provider.List()
	if err != nil {
		return "", fmt.Errorf("listing kind clusters: %w", err)
	}
	for _, n := range existing {
		if n != k.name {
			continue
		}
		err := k.answers(ctx)
		if err == nil {
			// A kept cluster made from another kind config lacks the host
			// ports this one maps: everything that probes through them
			// would fail for a reason that has nothing to do with the mesh.
			if err := k.checkPortMappings(ctx, configFile); err != nil {
				return "", err
			}
			k.logf("kind: reusing the running cluster %q", k.name)
			return k.kubeconfig, nil
		}
		// Left over from an interrupted run or a stopped engine: its nodes
		// exist but its API server does not answer.
		k.logf("kind: cluster %q exists but does not answer (%v): deleting it and creating it afresh", k.name, err)
		if err := k.Destroy(ctx); err != nil {
			return "", err
		}
	}
	// Before kind starts anything: a host port another container holds
	// would fail the node's docker run ("port is already allocated").
	if err := k.checkHostPorts(ctx, configFile); err != nil {
		return "", err
	}
	opts := []kindcluster.CreateOption{
		kindcluster.CreateWithKubeconfigPath(k.kubeconfig),
		kindcluster.CreateWithWaitForReady(k.timeout),
		kindcluster.CreateWithDisplayUsage(false),
		kindcluster.CreateWithDisplaySalutation(false),
	}
	if configFile != "" {
		opts = append(opts, kindcluster.CreateWithConfigFile(configFile))
	}
	if k.image != "" {
		opts = append(opts, kindcluster.CreateWithNodeImage(k.image))
	}
	start := time.Now()
	k.creating.Store(true)
	defer k.creating.Store(false)
	k.logf("kind: creating cluster %q (image %s, config %s)", k.name, k.image, orDefault(configFile))
	if err := k.provider.Create(k.name, opts...); err != nil {
		// kind deletes a cluster whose creation failed; say so.
		return "", fmt.Errorf("kind: creating cluster %q failed (kind removed what it had started): %w", k.name, err)
	}
	k.Created = true
	k.logf("kind: cluster %q ready in %s", k.name, time.Since(start).Round(time.Second))
	return k.kubeconfig, k.loadRest()
}

// checkPortMappings refuses to reuse a cluster whose nodes do not publish
// every container port the kind config maps (on its host port, where the
// config fixes one).
func (k *Kind) checkPortMappings(ctx context.Context, configFile string) error {
	if configFile == "" {
		return nil
	}
	want, err := PortMappings(configFile)
	if err != nil || len(want) == 0 {
		return err
	}
	nodes, err := k.provider.ListNodes(k.name)
	if err != nil {
		return fmt.Errorf("kind: listing the nodes of %q: %w", k.name, err)
	}
	running, err := RunningContainers(ctx)
	if err != nil {
		return fmt.Errorf("kind: reading the port bindings of %q: %w", k.name, err)
	}
	var have []Binding
	for _, n := range nodes {
		for _, c := range running {
			if c.Name == n.String() {
				have = append(have, c.Bindings...)
			}
		}
	}
	var missing []string
	for _, m := range want {
		if !slices.ContainsFunc(have, func(b Binding) bool { return b.Key == m.Key() && (m.HostPort == 0 || b.HostPort == m.HostPort) }) {
			missing = append(missing, m.String())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("kind: the running cluster %q was made with another kind config: it does not map %s, which %s needs; "+
			"delete it (docker rm -f its nodes, or kind delete cluster --name %s) or choose another --cluster-name",
			k.name, strings.Join(missing, ", "), configFile, k.name)
	}
	return nil
}

// Owned tells whether this run created the cluster or is creating it: only
// then may it delete it.
func (k *Kind) Owned() bool { return k.Created || k.creating.Load() }

func orDefault(s string) string {
	if s == "" {
		return "kind's default"
	}
	return s
}

// answers exports the kubeconfig of an existing cluster and checks, within
// 20 seconds, that its API server answers.
func (k *Kind) answers(ctx context.Context) error {
	if err := k.provider.ExportKubeConfig(k.name, k.kubeconfig, false); err != nil {
		return err
	}
	if err := k.loadRest(); err != nil {
		return err
	}
	cfg := rest.CopyConfig(k.rest)
	cfg.Timeout = 20 * time.Second
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	_, err = kc.Discovery().ServerVersion()
	return err
}

func (k *Kind) loadRest() error {
	cfg, err := clientcmd.BuildConfigFromFlags("", k.kubeconfig)
	if err != nil {
		return fmt.Errorf("kind: reading %s: %w", k.kubeconfig, err)
	}
	k.rest = cfg
	return nil
}

// ExportLogs collects the nodes' logs (kind's own collector).
func (k *Kind) ExportLogs(_ context.Context, dest string) error {
	return k.provider.CollectLogs(k.name, dest)
}

// deleteTimeout bounds one deletion of a cluster: a node that cannot be
// killed must end in an error that says what to do, never in a hang.
const deleteTimeout = 3 * time.Minute

// Destroy deletes the cluster. Frozen cgroups under each node are thawed
// first (see freezer.go), and once more before a second attempt if the
// first fails. A cluster interrupted while kind was creating it may still
// gain a node container from a docker run already under way: those are
// looked for, bounded, and deleted too.
func (k *Kind) Destroy(ctx context.Context) error {
	err := k.deleteOnce(ctx)
	if err != nil {
		k.logf("kind: deleting cluster %q failed (%v): thawing its nodes and trying once more", k.name, err)
		err = k.deleteOnce(ctx)
	}
	if err == nil && k.creating.Load() {
		deadline := time.Now().Add(20 * time.Second)
		for err == nil && time.Now().Before(deadline) {
			if nodes, lerr := k.provider.ListNodes(k.name); lerr == nil && len(nodes) > 0 {
				k.logf("kind: %d node(s) of %q appeared after the deletion (creation was under way): deleting them", len(nodes), k.name)
				err = k.deleteOnce(ctx)
			}
			time.Sleep(2 * time.Second)
		}
	}
	if err != nil {
		return fmt.Errorf("kind: deleting cluster %q: %w; its node containers may remain: list them with "+
			"`docker ps -a --filter label=io.x-k8s.kind.cluster=%s` and remove them with `docker rm -f <name>`; "+
			"if Docker cannot kill one (\"failed to exit within 10 seconds of kill\"), a cgroup inside it is frozen (cgroup v1): "+
			"as root, write THAWED to every freezer.state that reads FROZEN under /sys/fs/cgroup/freezer, then remove it again",
			k.name, err, k.name)
	}
	k.logf("kind: cluster %q deleted", k.name)
	return nil
}

// deleteOnce thaws the nodes' frozen cgroups, then deletes the cluster
// through kind, bounded by deleteTimeout.
func (k *Kind) deleteOnce(ctx context.Context) error {
	k.thawNodes(ctx)
	done := make(chan error, 1)
	go func() { done <- k.provider.Delete(k.name, k.kubeconfig) }()
	select {
	case err := <-done:
		return err
	case <-time.After(deleteTimeout):
		return fmt.Errorf("kind did not finish deleting within %s", deleteTimeout)
	}
}

// thawNodes thaws frozen cgroups under each node container of the cluster
// and says so; it cannot fail the deletion, only explain it.
func (k *Kind) thawNodes(ctx context.Context) {
	nodes, err := k.provider.ListNodes(k.name)
	if err != nil {
		return
	}
	for _, n := range nodes {
		thawed, err := ThawContainer(ctx, n.String())
		if len(thawed) > 0 {
			k.logf("kind: node %s had %d frozen cgroup(s) (a runc in the node was stopped mid-update); thawed before deleting it: %s",
				n.String(), len(thawed), strings.Join(thawed, ", "))
		}
		if err != nil {
			k.logf("kind: node %s: could not check its cgroups for frozen ones (%v); deleting it anyway", n.String(), err)
		}
	}
}

// Exists tells whether a kind cluster of this name is running.
func (k *Kind) Exists() (bool, error) {
	names, err := k.provider.List()
	if err != nil {
		return false, err
	}
	for _, n := range names {
		if n == k.name {
			return true, nil
		}
	}
	return false, nil
}

// WaitForControlPlane waits until every node is Ready and the kube-system
// pods run, bounded by the cluster timeout.
func (k *Kind) WaitForControlPlane(ctx context.Context) error {
	kc, err := kubernetes.NewForConfig(k.rest)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(k.timeout)
	for {
		missing := notReady(ctx, kc)
		if missing == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kind: control plane of %q not ready within %s: %s", k.name, k.timeout, missing)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

func notReady(ctx context.Context, kc kubernetes.Interface) string {
	nodes, err := kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	for _, n := range nodes.Items {
		ready := false
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if !ready {
			return "node " + n.Name + " not Ready"
		}
	}
	pods, err := kc.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodSucceeded {
			return "pod kube-system/" + p.Name + " is " + string(p.Status.Phase)
		}
	}
	return ""
}

// KubernetesRestConfig is the client configuration of the created or
// reused cluster.
func (k *Kind) KubernetesRestConfig() *rest.Config { return k.rest }

// LoadImageArchive loads an image tarball into every node's containerd.
func (k *Kind) LoadImageArchive(_ context.Context, archive string, _ ...string) error {
	nodes, err := k.provider.ListInternalNodes(k.name)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		f, err := os.Open(archive)
		if err != nil {
			return err
		}
		err = nodeutils.LoadImageArchive(n, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("kind: loading %s into %s: %w", archive, n.String(), err)
		}
	}
	return nil
}

// kindLogger adapts kind's logger to a printf function.
type kindLogger struct{ logf func(string, ...any) }

func (l kindLogger) Warn(message string)                { l.logf("kind: %s", message) }
func (l kindLogger) Warnf(format string, args ...any)   { l.logf("kind: "+format, args...) }
func (l kindLogger) Error(message string)               { l.logf("kind: %s", message) }
func (l kindLogger) Errorf(format string, args ...any)  { l.logf("kind: "+format, args...) }
func (l kindLogger) V(kindlog.Level) kindlog.InfoLogger { return l }
func (l kindLogger) Info(message string)                { l.logf("kind: %s", message) }
func (l kindLogger) Infof(format string, args ...any)   { l.logf("kind: "+format, args...) }
func (l kindLogger) Enabled() bool                      { return false }
