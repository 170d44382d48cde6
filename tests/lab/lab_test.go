//go:build lab

// Package lab is the offline lab tier: a real kind cluster created through
// the suite's own kind provider from a locally built node image, real pods
// from locally built images, and the suites' own matrix cells run against
// stand-in targets that enforce nothing. Run it with make lab.
package lab

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/secure-inference/mesh-conformance/fixtures"
	kindconfig "github.com/secure-inference/mesh-conformance/kind-config"
	"github.com/secure-inference/mesh-conformance/tests/apply"
	"github.com/secure-inference/mesh-conformance/tests/cluster"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	"github.com/secure-inference/mesh-conformance/tests/ready"
	"github.com/secure-inference/mesh-conformance/tests/report"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

//go:embed testdata/standins.yaml
var standins []byte

const clusterName = "mc-lab"

var (
	kind *cluster.Kind
	// kubeconfig is the lab cluster's, for suite binaries run on it as on
	// a user's existing cluster (--kubeconfig).
	kubeconfig string
	restCfg    *rest.Config
	kube       kubernetes.Interface
	applier    *apply.Applier
	exec_      probe.Executor
	recorder   = report.NewRecorder(reportapi.Environment{Cluster: "kind-" + clusterName + " (offline lab, stand-in targets)", Mode: "none (no mesh)"})
)

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s lab: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func TestMain(m *testing.M) {
	image := os.Getenv("MC_LAB_NODE_IMAGE")
	if image == "" {
		fmt.Fprintln(os.Stderr, "lab: MC_LAB_NODE_IMAGE is not set; run make lab (it builds a node image and test images once, cached)")
		os.Exit(1)
	}
	os.Exit(runLab(m, image))
}

func runLab(m *testing.M, image string) int {
	ctx := context.Background()
	start := time.Now()
	kind = cluster.NewKind(clusterName, image, 5*time.Minute, logf)
	cfgFile := filepath.Join(os.TempDir(), "mc-lab-kind.yaml")
	data, _ := kindconfig.FS.ReadFile("lab.yaml")
	if err := os.WriteFile(cfgFile, data, 0o644); err != nil {
		logf("%v", err)
		return 1
	}
	defer teardown()
	var err error
	if kubeconfig, err = kind.CreateWithConfig(ctx, cfgFile); err != nil {
		logf("%v", err)
		return 1
	}
	if err := kind.WaitForControlPlane(ctx); err != nil {
		logf("%v", err)
		return 1
	}
	logf("cluster ready in %s", time.Since(start).Round(time.Millisecond))
	t0 := time.Now()
	for _, img := range strings.Split(os.Getenv("MC_LAB_IMAGES"), ",") {
		if img == "" {
			continue
		}
		if err := kind.LoadImageArchive(ctx, img); err != nil {
			logf("%v", err)
			return 1
		}
	}
	logf("images loaded in %s", time.Since(t0).Round(time.Millisecond))
	restCfg = kind.KubernetesRestConfig()
	if kube, err = kubernetes.NewForConfig(restCfg); err == nil {
		applier, err = apply.New(restCfg)
	}
	if err != nil {
		logf("%v", err)
		return 1
	}
	exec_ = probe.PodExecutor{Config: restCfg, Client: kube}
	if err := deployWorkloads(ctx); err != nil {
		logf("deploying lab workloads: %v", err)
		return 1
	}
	logf("workloads ready %s after start", time.Since(start).Round(time.Millisecond))
	code := m.Run()
	if path, err := recorder.Write(filepath.Join(repoRoot(), "_output", "lab")); err == nil {
		logf("lab report: %s", path)
	}
	return code
}

// teardown deletes the cluster unless MC_LAB_KEEP is set, and checks that
// nothing of it is left: no node containers, no kind network members.
func teardown() {
	if os.Getenv("MC_LAB_KEEP") != "" {
		logf("cluster %s kept (MC_LAB_KEEP)", clusterName)
		return
	}
	if err := kind.Destroy(context.Background()); err != nil {
		logf("%v", err)
	}
	out, _ := exec.Command("docker", "ps", "-a", "-q", "--filter", "label=io.x-k8s.kind.cluster="+clusterName).Output()
	if s := strings.TrimSpace(string(out)); s != "" {
		logf("LEAK: containers of %s remain: %s", clusterName, s)
	}
}

// deployWorkloads applies the suites' own client fixtures, then the lab's
// stand-ins, and waits for all of it.
func deployWorkloads(ctx context.Context) error {
	for _, f := range []string{"baseline/workloads.yaml", "kservemesh/namespace.yaml", "kservemesh/clients.yaml", "kservemesh/httpbin.yaml"} {
		if err := fixtures.Apply(ctx, applier, f); err != nil {
			return err
		}
	}
	objs, err := apply.Decode("tests/lab/testdata/standins.yaml", standins)
	if err != nil {
		return err
	}
	if err := applier.Apply(ctx, objs...); err != nil {
		return err
	}
	if err := fixtures.Apply(ctx, applier, "opeaistio/clients.yaml"); err != nil {
		return err
	}
	// kube-system too: CoreDNS, or the first test to run resolves nothing.
	for _, ns := range []string{"kube-system", "mc-baseline", "user1", "user2", "default", "chatqna", "outside", "istio-ingress", "istio-system"} {
		if err := ready.Deployments(ctx, kube, ns, "", 3*time.Minute); err != nil {
			return err
		}
	}
	return nil
}

func resolve(ctx context.Context, c matrix.Client) (probe.Pod, error) {
	p, err := ready.Pod(ctx, kube, c.Namespace, c.Selector, time.Minute)
	if err != nil {
		return probe.Pod{}, err
	}
	return probe.Pod{Namespace: p.Namespace, Name: p.Name, Container: c.Container}, nil
}

// labSettings are the suite's defaults with a shorter time limit: cells that
// fail here fail for good (nothing enforces anything).
func labSettings() matrix.Settings {
	t := options.DefaultTimeouts()
	t.MaxTimeToConsistency, t.RoundInterval, t.RequestTimeout = 20*time.Second, 500*time.Millisecond, 3*time.Second
	return harness.Settings(t)
}

func repoRoot() string {
	dir, _ := os.Getwd()
	return filepath.Join(dir, "..", "..")
}
