package harness

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"

	kindconfig "github.com/secure-inference/mesh-conformance/kind-config"
	"github.com/secure-inference/mesh-conformance/tests/apply"
	"github.com/secure-inference/mesh-conformance/tests/cluster"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/detect"
	"github.com/secure-inference/mesh-conformance/tests/diagnostics"
	"github.com/secure-inference/mesh-conformance/tests/hostlock"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	"github.com/secure-inference/mesh-conformance/tests/report"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
	"github.com/secure-inference/mesh-conformance/tests/runlock"
	"github.com/secure-inference/mesh-conformance/tests/versions"
)

// Main is a suite's TestMain: options, the cluster, the setup steps, then
// the package's test (Features), then the teardown. It is the one place
// the process exits, with the code of whichever ends the run first: the
// run itself (execute) or a stop (a signal, the deadline).
func (r *Run) Main(m *testing.M) {
	go func() { r.exitWith(r.execute(m)) }()
	os.Exit(<-r.exit)
}

// exitWith hands Main the run's own exit code, unless a stop is under way:
// that one exits with its code once it has torn down (a step failing
// because the cluster went away must not exit first with another).
func (r *Run) exitWith(code int) {
	if r.stopping.Load() {
		return
	}
	select {
	case r.exit <- code:
	default: // a stop came first
	}
}

// execute is the run from its flags to its exit code: 2 for bad options
// or a budget go test's -timeout cannot hold, 0 for --list-modes and for a
// mode the suite does not run in (reported as skipped), 1 for a dry run
// whose plan has errors, otherwise the tests' result.
func (r *Run) execute(m *testing.M) int {
	s := r.declared
	if err := r.parse(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", s.Name, err)
		return 2
	}
	if r.Opts.ListModes {
		for _, mode := range s.Modes {
			fmt.Println(mode)
		}
		return 0
	}
	if len(s.Modes) > 0 && !slices.Contains(s.Modes, r.Opts.Mode) {
		why := fmt.Sprintf("the suite's document configures %s mode only; run with --mode=%s", joinModes(s.Modes), s.Modes[0])
		r.Report.Skip(s.Name, "all", why)
		r.Logf("skipped: %s (--mode=%s)", why, r.Opts.Mode)
		if err := r.teardown(); err != nil {
			r.Logf("%v", err)
		}
		return 0
	}
	if !r.Config.DryRunMode() {
		r.onSignal()
	}
	if err := s.checkSetup(r.Opts); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", s.Name, err)
		return 2
	}
	if s.CheckOptions != nil {
		if err := s.CheckOptions(r.Opts, r.Claimed); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", s.Name, err)
			return 2
		}
	}
	r.extra, r.namespaces = s.Diagnostics, s.Namespaces
	if s.IstioGateway != nil {
		r.gateway = detect.Workload{Namespace: s.IstioGateway.Namespace, Name: s.IstioGateway.Name}
		r.needs = detect.IstioParts(r.Opts.Mode == dataplane.Ambient)
	}
	r.needs = append(r.needs, s.Components...)
	var steps []Step
	if s.Steps != nil {
		steps = s.Steps(r.Opts)
	}
	r.budget = s.budget(r, steps)
	if r.Config.DryRunMode() {
		if err := s.plan(os.Stdout, r, steps); err != nil {
			fmt.Fprintf(os.Stderr, "%s: the plan has errors a real run would fail on:\n%v\n", s.Name, err)
			return 1
		}
		return r.testenv.Run(m)
	}
	// Before anything is created or touched: a run that go test would kill
	// midway must not start.
	if err := checkTimeout(s.Name, testTimeout(), r.budget); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", s.Name, err)
		return 2
	}
	r.watchDeadline()
	r.testenv.Setup(r.provision)
	for _, st := range steps {
		r.testenv.Setup(r.setupFunc(st))
	}
	r.testenv.Finish(func(ctx context.Context, _ *envconf.Config) (context.Context, error) { return ctx, r.teardown() })
	return r.testenv.Run(m)
}

// provision creates or reuses the cluster, builds the clients, takes the
// run's lock on the cluster, detects what it already runs, plans the
// install steps and builds the Env the steps are handed.
func (r *Run) provision(ctx context.Context, cfg *envconf.Config) (context.Context, error) {
	clusterName := ""
	if r.Opts.UsesExistingCluster() {
		r.kubeconfig, r.kubeContext = r.Opts.Cluster.Kubeconfig, r.Config.KubeContext()
		clusterName = "existing (" + r.Opts.Cluster.Kubeconfig + ")"
		r.Logf("using the existing cluster of %s; nothing already installed there will be removed", r.Opts.Cluster.Kubeconfig)
	} else {
		// One run that creates a kind cluster at a time on this host,
		// before the cluster is looked for or created.
		var err error
		r.hostLock, err = hostlock.Acquire(ctx, hostlock.Settings{Holder: hostlock.Describe(r.Suite, r.Opts.Cluster.Name), Wait: r.hostLockWait(r.budget), Logf: r.Logf,
			Why: "; nothing was created. Suites that create their own kind cluster run one at a time on a host: run them in turn (go test -tags e2e -p 1 -v -timeout " +
				shortDuration(r.budget.Timeout()) + " ./suites/..., or make e2e), or raise --host-lock-timeout and go test's -timeout"})
		if err != nil {
			return ctx, err
		}
		r.Kind = cluster.NewKind(r.Opts.Cluster.Name, r.Versions.NodeImage, r.Opts.Timeouts.ClusterTimeout, r.Logf)
		cfgFile, err := r.kindConfigFile()
		if err != nil {
			return ctx, err
		}
		kubeconfig, err := r.Kind.CreateWithConfig(ctx, cfgFile)
		if err != nil {
			return ctx, err
		}
		r.kubeconfig = kubeconfig
		if err := r.Kind.WaitForControlPlane(ctx); err != nil {
			return ctx, err
		}
		for _, a := range r.Opts.Cluster.ImageArchives {
			if err := r.Kind.LoadImageArchive(ctx, a); err != nil {
				return ctx, err
			}
			r.Logf("loaded %s into the kind nodes", a)
		}
		clusterName = "kind-" + r.Opts.Cluster.Name
	}
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: r.kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: r.kubeContext}).ClientConfig()
	if err != nil {
		return ctx, fmt.Errorf("--kubeconfig %s (context %q) cannot be used: %w; pass a valid kubeconfig, or drop --kubeconfig to let the suite create a kind cluster",
			r.kubeconfig, r.kubeContext, err)
	}
	cfg.WithKubeconfigFile(r.kubeconfig)
	if r.Kube, err = kubernetes.NewForConfig(rc); err != nil {
		return ctx, err
	}
	if r.Istio, err = istioclient.NewForConfig(rc); err != nil {
		return ctx, err
	}
	if r.Apply, err = apply.New(rc); err != nil {
		return ctx, err
	}
	r.Apply.Logf = r.Logf
	sv, err := r.Kube.Discovery().ServerVersion()
	if err != nil {
		return ctx, fmt.Errorf("cannot reach the cluster's API server (check --kubeconfig/--context): %w", err)
	}
	env := reportapi.Environment{Cluster: clusterName, KubernetesVersion: sv.GitVersion, Mode: string(r.Opts.Mode), Profile: r.declared.profile(r.Opts),
		AsWritten: options.AsWritten(r.Opts)}
	r.Report.SetEnvironment(env)
	r.Exec = probe.PodExecutor{Config: rc, Client: r.Kube}
	// One run per cluster: before anything is read or touched.
	if r.lock, err = runlock.Acquire(ctx, r.Kube, runlock.Identity(r.Suite), runlock.Settings{Wait: r.Opts.Timeouts.ClusterLockTimeout, Logf: r.Logf}); err != nil {
		return ctx, err
	}
	found, err := detect.Detect(ctx, r.Kube, r.Apply.Dynamic, r.gateway)
	if err != nil {
		return ctx, err
	}
	found = detect.ForMode(found, r.Opts.Mode == dataplane.Ambient)
	steps := detect.Plan(found, r.needs, func(c string) detect.Policy { return detect.Policy(r.Opts.InstallPolicy(detect.ComponentOf(c))) })
	r.installPlan = map[string]detect.Step{}
	for _, s := range steps {
		r.installPlan[s.Component] = s
	}
	r.Logf("found on the cluster, and the plan:\n%s", detect.Describe(steps))
	if missing := detect.MissingComponents(steps); len(missing) > 0 {
		return ctx, fmt.Errorf("the cluster lacks %s (needed in %s mode) and --install forbids installing it: install it yourself, or allow --install=missing; nothing was changed",
			strings.Join(missing, ", "), r.Opts.Mode)
	}
	skip := map[string]bool{}
	for _, s := range steps {
		skip[s.Component] = !s.Install
		// Parts added beside an istiod that stays as found follow its
		// version: a data plane newer than its control plane is
		// unsupported.
		if s.Component == detect.Istio && !s.Install && s.Installed && r.WillInstall(detect.Istio) {
			if _, err := versions.Parse(s.Version); err == nil && s.Version != r.Versions.Istio {
				r.Logf("Istio parts to add follow the istiod found (%s), not the pinned %s", s.Version, r.Versions.Istio)
				r.Versions.Istio = strings.TrimPrefix(s.Version, "v")
			}
		}
	}
	env.Versions, env.Sources = environmentVersions(r.Versions, steps, r.Kind != nil && r.Kind.Created)
	r.Report.SetEnvironment(env)
	r.Diagnostics = &diagnostics.Collector{Kube: r.Kube, Dynamic: r.Apply.Dynamic, Istio: r.Istio, Config: rc, Extra: r.extra, Redact: r.redact}
	r.Installer = &install.Installer{Kube: r.Kube, Apply: r.Apply, Opts: r.Opts, Versions: r.Versions, Suite: r.Suite, Wait: true, Logf: r.Logf, Skip: skip,
		Helm: &install.Helm{Kubeconfig: r.kubeconfig, Context: r.kubeContext, Logf: r.Logf}}
	r.stepEnv = r.env()
	return ctx, nil
}

func (r *Run) kindConfigFile() (string, error) {
	if r.Opts.Cluster.KindConfig != "" {
		return r.Opts.Cluster.KindConfig, nil
	}
	if r.declared == nil || r.declared.KindConfig == "" {
		return "", nil // kind's default single node
	}
	name := r.declared.KindConfig
	data, err := kindconfig.FS.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("kind config %s: %w", name, err)
	}
	f := filepath.Join(os.TempDir(), "mesh-conformance-"+r.Suite+"-kind.yaml")
	return f, os.WriteFile(f, data, 0o644)
}

// setupFunc makes a setup step an environment function, handed the run's
// Env, timed and logged; what it installed is remembered for the final
// account. An install step is skipped when the plan found its component
// in place.
func (r *Run) setupFunc(st Step) env.Func {
	return func(ctx context.Context, _ *envconf.Config) (context.Context, error) {
		if s, ok := r.installPlan[st.Component]; ok && st.Component != "" && !r.WillInstall(st.Component) {
			r.Logf("step %s skipped: %s (%s)", st.Name, s.Found, s.Why)
			return ctx, nil
		}
		start := time.Now()
		r.Logf("step %s ...", st.Name)
		if err := st.Run(ctx, r.stepEnv); err != nil {
			r.Report.Check(r.Suite, "setup/"+st.Name, err)
			r.diagnose("setup/"+st.Name, err)
			// e2e-framework prints this error: no secret may be in it.
			return ctx, fmt.Errorf("step %s: %s", st.Name, r.redact.String(err.Error()))
		}
		r.installed = append(r.installed, st.Name)
		r.Report.Check(r.Suite, "setup/"+st.Name, nil)
		r.Logf("step %s done in %s", st.Name, time.Since(start).Round(time.Millisecond))
		return ctx, nil
	}
}

// teardown writes the report, then deletes a kind cluster this run created
// (unless --keep-cluster), and says what stays. It runs once, at the end
// or on Ctrl-C/SIGTERM, whichever comes first.
func (r *Run) teardown() error {
	var err error
	r.finish.Do(func() {
		r.Report.SetProvenance(r.provenance())
		path, werr := r.Report.Write(r.Opts.OutputDir)
		if werr == nil {
			_, werr = r.Report.WriteJUnit(r.Opts.OutputDir)
		}
		if werr != nil {
			err = werr
		} else {
			r.Logf("report written to %s (and %s beside it)", path, report.JUnitFileName)
		}
		destroy := r.Kind != nil && r.Kind.Owned() && !r.Opts.Cluster.Keep
		if r.lock != nil && !destroy {
			// A cluster about to be deleted keeps its lease to the end: no
			// other run may start on it meanwhile.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if lerr := r.lock.Release(ctx); lerr != nil {
				r.Logf("run lease: releasing: %v (it expires by itself within %s)", lerr, runlock.DefaultDuration)
			}
			cancel()
		}
		// The next run on this host may create its cluster once this one's
		// is gone (or kept, and said so).
		defer r.hostLock.Release()
		switch {
		case destroy:
			if derr := r.Kind.Destroy(context.Background()); derr != nil {
				err = derr
			}
		case r.Kind != nil && r.kubeconfig != "":
			r.Logf("kind cluster %q kept (kubeconfig %s)", r.Opts.Cluster.Name, r.kubeconfig)
		case r.Kind != nil:
			r.Logf("no kind cluster was created or reused: nothing to delete")
		case len(r.installed) > 0:
			r.Logf("left in place on your cluster (this run never uninstalls): %s", strings.Join(r.installed, ", "))
		}
	})
	return err
}

// ExitCode is the shell's convention for a process ended by a signal:
// 128 + its number (130 for SIGINT, 143 for SIGTERM).
func ExitCode(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}

// onSignal tears down on Ctrl-C or SIGTERM: the report is written and a
// created kind cluster deleted, then Main exits.
func (r *Run) onSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-ch
		r.stop(s.String()+" received: tearing down", s.String(), ExitCode(s))
	}()
}

// stop ends the run from outside its own flow (a signal, the deadline):
// the features under way are recorded as interrupted by why, what was
// taken away is put back, the report is written and a created kind
// cluster deleted; then Main exits with code.
func (r *Run) stop(msg, why string, code int) {
	r.Logf("%s", msg)
	r.stopping.Store(true)
	r.runRestorers()
	r.stopRunning(why)
	if err := r.teardown(); err != nil {
		klog.Errorf("teardown: %v", err)
	}
	select {
	case r.exit <- code:
	default: // another stop came first
	}
}
