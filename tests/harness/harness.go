// Package harness runs a suite declared as a Suite value: options and
// e2e-framework flags, the cluster (kind through the library, or the
// user's), clients, the setup and install steps, the features (support
// levels, controls, cold sequences), the report, and a teardown that also
// runs on Ctrl-C.
package harness

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"

	"github.com/secure-inference/mesh-conformance/fixtures"
	kindconfig "github.com/secure-inference/mesh-conformance/kind-config"
	"github.com/secure-inference/mesh-conformance/tests/apply"
	"github.com/secure-inference/mesh-conformance/tests/capacity"
	"github.com/secure-inference/mesh-conformance/tests/cluster"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/detect"
	"github.com/secure-inference/mesh-conformance/tests/diagnostics"
	"github.com/secure-inference/mesh-conformance/tests/hostlock"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	"github.com/secure-inference/mesh-conformance/tests/provenance"
	"github.com/secure-inference/mesh-conformance/tests/ready"
	"github.com/secure-inference/mesh-conformance/tests/redact"
	"github.com/secure-inference/mesh-conformance/tests/report"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
	"github.com/secure-inference/mesh-conformance/tests/runlock"
	"github.com/secure-inference/mesh-conformance/tests/versions"
)

// Run is one suite run.
type Run struct {
	Suite    string
	Opts     options.Options
	Versions versions.Set
	Env      env.Environment
	Config   *envconf.Config
	Report   *report.Recorder

	// Set once the cluster is provisioned.
	Kube      kubernetes.Interface
	Istio     istioclient.Interface
	Apply     *apply.Applier
	Installer *install.Installer
	Exec      probe.Executor
	Kind      *cluster.Kind
	// Diagnostics writes a bundle for every failed setup step, check and
	// matrix, with the resources the suite declared (Suite.Diagnostics).
	Diagnostics *diagnostics.Collector

	// kubeconfig is the file the run talks to: the user's, or the one kind
	// wrote for the cluster it created (Opts keeps what the user asked for).
	kubeconfig  string
	kubeContext string
	kindConfig  string
	// redact scrubs the run's secrets from its log, report and
	// diagnostics: built once, from the environment, in Setup.
	redact     redact.Redactor
	extra      []diagnostics.Extra
	namespaces []string
	needs      []string
	gateway    detect.Workload
	lock       *runlock.Lock
	hostLock   *hostlock.Lock
	// budget is what the run can take (Suite.budget), known before it
	// starts: the host lock's wait leaves it before go test's deadline.
	budget    Budget
	restoreMu sync.Mutex
	stopping  atomic.Bool
	restorers map[string]func(context.Context) error
	plan      map[string]detect.Step
	installed []string
	finish    sync.Once
	// baselineFailed is set by the baseline feature and read by every
	// later matrix's judgement (atomic: features may run in parallel).
	baselineFailed atomic.Bool
	// runningMu guards runningFeatures, the features under way, which a
	// signal records before the report is written.
	runningMu       sync.Mutex
	runningFeatures []*featureRun
}

// WillInstall tells whether the run's plan installs a component, or any
// part of it (false before the cluster is provisioned, and for what was
// found in place).
func (r *Run) WillInstall(component string) bool {
	for _, s := range r.plan {
		if detect.ComponentOf(s.Component) == component && s.Install {
			return true
		}
	}
	return false
}

// Adds tells whether the plan installs a part of a component that is not
// there yet (what an upgrade in place adds to the scheduler's books is
// already counted in what the nodes have requested).
func (r *Run) Adds(component string) bool {
	for _, s := range r.plan {
		if detect.ComponentOf(s.Component) == component && s.Install && !s.Installed {
			return true
		}
	}
	return false
}

// NeedsIstio declares Istio's parts for a mode (istiod and the suite's
// gateway; istio-cni and ztunnel in ambient mode), each detected and
// planned on its own.
func (r *Run) NeedsIstio(mode dataplane.Mode, gateway install.Gateway) {
	r.gateway = detect.Workload{Namespace: gateway.Namespace, Name: gateway.Name}
	r.needs = append(r.needs, detect.IstioParts(mode == dataplane.Ambient)...)
}

// Capacity is a setup step that stops the run before anything is installed
// when the cluster's schedulable nodes cannot hold what the suite will
// request (need is called once the plan is known).
func (r *Run) Capacity(need func(ctx context.Context) []capacity.Request) Step {
	return Step{Name: "capacity", Run: func(ctx context.Context) error {
		free, err := capacity.Measure(ctx, r.Kube)
		if err != nil {
			return err
		}
		n := need(ctx)
		cpu, mem := capacity.Sum(n)
		r.Logf("capacity: the suite will request %dm CPU / %dMi; %d schedulable node(s): %dm / %dMi allocatable, %dm / %dMi already requested",
			cpu.MilliValue(), mem.Value()>>20, free.Nodes, free.AllocatableCPU.MilliValue(), free.AllocatableMemory.Value()>>20,
			free.RequestedCPU.MilliValue(), free.RequestedMemory.Value()>>20)
		return capacity.Check(free, n)
	}}
}

// Needs declares the components the suite installs, so the run can state
// its plan (what it found, what it will install) before touching anything.
func (r *Run) Needs(components ...string) { r.needs = append(r.needs, components...) }

// Install is an install step of a component, run only if the plan says so.
func (r *Run) Install(component, name string, fn func(ctx context.Context) error) env.Func {
	step := r.Step(name, fn)
	return func(ctx context.Context, cfg *envconf.Config) (context.Context, error) {
		if s, ok := r.plan[component]; ok && !r.WillInstall(component) {
			r.Logf("step %s skipped: %s (%s)", name, s.Found, s.Why)
			return ctx, nil
		}
		return step(ctx, cfg)
	}
}

// AddDiagnostics names resources a suite wants in every diagnostics bundle.
func (r *Run) AddDiagnostics(e ...diagnostics.Extra) { r.extra = append(r.extra, e...) }

// DiagnoseNamespaces names the namespaces whose pods, events, logs and
// sidecar configuration explain a failed setup step or check (a failed
// matrix names its own).
func (r *Run) DiagnoseNamespaces(ns ...string) { r.namespaces = append(r.namespaces, ns...) }

// diagnose writes a bundle for a failed setup step or check, under
// <output>/diagnostics/<name>. Before the cluster answers there is nothing
// to collect.
func (r *Run) diagnose(name string, err error) {
	if r.Diagnostics == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), diagnoseTimeout)
	defer cancel()
	r.Logf("diagnostics of %s: writing the bundle", name)
	r.bundle(ctx, name, diagnostics.Failure{Summary: name + ": " + err.Error() + "\n", Namespaces: r.namespaces, ProxyNamespaces: r.namespaces})
}

// diagnoseTimeout bounds the writing of one bundle.
const diagnoseTimeout = 3 * time.Minute

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9/_.-]+`)

func (r *Run) bundle(ctx context.Context, name string, f diagnostics.Failure) {
	dir := filepath.Join(r.Opts.OutputDir, "diagnostics", strings.ReplaceAll(unsafeName.ReplaceAllString(name, "-"), "..", "-"))
	files, err := r.Diagnostics.Bundle(ctx, dir, f)
	if err != nil {
		r.Logf("diagnostics of %s: %v", name, err)
		return
	}
	r.Logf("diagnostics of %s: %d files in %s", name, len(files), dir)
}

// BaselineMeaning is what a failed baseline does to every other verdict.
const BaselineMeaning = "the baseline failed: this cluster's plain networking or the probe's classification is broken, so the mesh verdicts of this run mean nothing"

// MarkBaselineFailed records that the baseline failed, as a check of the
// feature running in ctx (the baseline's).
func (r *Run) MarkBaselineFailed(ctx context.Context) {
	r.baselineFailed.Store(true)
	r.scope(ctx).Check("baseline", fmt.Errorf("%s", BaselineMeaning))
}

// scope is where a step records: the scope of the feature that ctx
// carries, or the suite's setup outside any feature.
func (r *Run) scope(ctx context.Context) *report.Scope {
	if s := report.ScopeOf(ctx); s != nil {
		return s
	}
	return r.Report.Setup(r.Suite)
}

// Setup parses the flags (ours and e2e-framework's), loads the options and
// prepares the environment. Bad options end the process with a message
// that names them, before anything touches a cluster. modes are the
// data-plane modes the suite supports, its document's own first: the
// default when --mode is not given. A suite without modes (the baseline)
// runs in none. A mode the suite does not support is reported as skipped.
func Setup(suite string, pinned versions.Set, modes ...dataplane.Mode) *Run {
	// The config file first, the flags bound over its values: one parse.
	op, err := options.New(flag.CommandLine, os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", suite, err)
		os.Exit(2)
	}
	// A bad flag: the flag package prints one line naming it (and the
	// accepted values), then this usage, and exits 2.
	flag.CommandLine.Usage = func() {
		if msg := options.UnknownFlag(flag.CommandLine, os.Args[1:]); msg != "" {
			fmt.Fprintln(os.Stderr, msg)
		}
		options.Usage(os.Stderr, suite)()
	}
	cfg, err := envconf.NewFromFlags()
	if err == nil {
		err = op.Finish(flag.CommandLine)
	}
	o := *op
	if err == nil && o.Mode == "" && len(modes) > 0 {
		o.Mode = modes[0]
		err = o.Validate() // again: the Istio version must suit this mode
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", suite, err)
		os.Exit(2)
	}
	if o.ListModes {
		for _, m := range modes {
			fmt.Println(m)
		}
		os.Exit(0)
	}
	if o.Cluster.Name == "" {
		o.Cluster.Name = ClusterName(suite, o.Mode)
	}
	o.OutputDir = filepath.Join(fromRepoRoot(o.OutputDir), suite)
	r := &Run{Suite: suite, Opts: o, Versions: pinned.With(o.Versions), Config: cfg, Env: env.NewWithConfig(cfg), redact: redact.New(options.Secrets()...)}
	// The environment's versions are recorded once the plan is known
	// (provision): which components are installed or found, and at what.
	r.Report = report.NewRecorder(reportapi.Environment{Mode: string(o.Mode)}).WithRedactor(r.redact)
	r.Report.SetImplementation(reportapi.Implementation(o.Implementation))
	if len(modes) > 0 && !slices.Contains(modes, o.Mode) {
		why := fmt.Sprintf("the suite's document configures %s mode only; run with --mode=%s", joinModes(modes), modes[0])
		r.Report.Skip(suite, "all", why)
		r.Logf("skipped: %s (--mode=%s)", why, o.Mode)
		if err := r.Teardown(); err != nil {
			r.Logf("%v", err)
		}
		os.Exit(0)
	}
	if !cfg.DryRunMode() {
		r.Env.Setup(r.provision)
		r.Env.Finish(func(ctx context.Context, _ *envconf.Config) (context.Context, error) { return ctx, r.Teardown() })
		r.onSignal()
	}
	return r
}

// ClusterName is the default kind cluster of a suite in a mode: one per
// suite and mode, so a kept cluster made with one suite's kind config (its
// port mappings) is never picked up by another.
func ClusterName(suite string, mode dataplane.Mode) string {
	if mode == "" {
		return "mesh-conformance-" + suite
	}
	return "mesh-conformance-" + suite + "-" + string(mode)
}

func joinModes(modes []dataplane.Mode) string {
	out := make([]string, len(modes))
	for i, m := range modes {
		out[i] = string(m)
	}
	return strings.Join(out, " or ")
}

// fromRepoRoot resolves a relative path against the repository root (the
// folder of go.mod), not the test package's folder that go test runs in.
func fromRepoRoot(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		return p
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, p)
		}
		if filepath.Dir(d) == d {
			return p
		}
	}
}

// Logf prints progress to the test output, secrets scrubbed.
func (r *Run) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s: %s\n", time.Now().Format("15:04:05"), r.Suite, r.redact.String(fmt.Sprintf(format, args...)))
}

// provision creates or reuses the cluster, builds the clients, takes the
// run's lock on the cluster, detects what it already runs and plans the
// install steps.
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
	env := reportapi.Environment{Cluster: clusterName, KubernetesVersion: sv.GitVersion, Mode: string(r.Opts.Mode)}
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
	r.plan = map[string]detect.Step{}
	for _, s := range steps {
		r.plan[s.Component] = s
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
	return ctx, nil
}

func (r *Run) kindConfigFile() (string, error) {
	if r.Opts.Cluster.KindConfig != "" {
		return r.Opts.Cluster.KindConfig, nil
	}
	if r.kindConfig == "" {
		return "", nil // kind's default single node
	}
	data, err := kindconfig.FS.ReadFile(r.kindConfig)
	if err != nil {
		return "", fmt.Errorf("kind config %s: %w", r.kindConfig, err)
	}
	f := filepath.Join(os.TempDir(), "mesh-conformance-"+r.Suite+"-kind.yaml")
	return f, os.WriteFile(f, data, 0o644)
}

// Step is a named install or setup step, run as an environment function,
// timed and logged; what it installed is remembered for the final account.
func (r *Run) Step(name string, fn func(ctx context.Context) error) env.Func {
	return func(ctx context.Context, _ *envconf.Config) (context.Context, error) {
		start := time.Now()
		r.Logf("step %s ...", name)
		if err := fn(ctx); err != nil {
			r.Report.Check(r.Suite, "setup/"+name, err)
			r.diagnose("setup/"+name, err)
			// e2e-framework prints this error: no secret may be in it.
			return ctx, fmt.Errorf("step %s: %s", name, r.redact.String(err.Error()))
		}
		r.installed = append(r.installed, name)
		r.Report.Check(r.Suite, "setup/"+name, nil)
		r.Logf("step %s done in %s", name, time.Since(start).Round(time.Millisecond))
		return ctx, nil
	}
}

// ApplyReady applies objects (server-side) and waits, within limit for
// them all (applied together, they progress together, and the run's budget
// counts the limit once), for every one's Ready condition:
// InferenceServices, Certificates.
func (r *Run) ApplyReady(ctx context.Context, objs []*unstructured.Unstructured, limit time.Duration) error {
	if err := r.Apply.Apply(ctx, objs...); err != nil {
		return err
	}
	deadline := time.Now().Add(limit)
	for _, o := range objs {
		limit := max(time.Until(deadline), time.Second)
		ri, err := r.Apply.Resource(o)
		if err != nil {
			return err
		}
		if err := ready.Condition(ctx, ri, o.GetName(), "Ready", limit); err != nil {
			return err
		}
	}
	return nil
}

// Resolve finds a ready pod of a matrix client.
func (r *Run) Resolve(ctx context.Context, c matrix.Client) (probe.Pod, error) {
	if c.Local {
		return probe.Pod{Local: true}, nil
	}
	p, err := ready.Pod(ctx, r.Kube, c.Namespace, c.Selector, r.Opts.Timeouts.ReadyTimeout)
	if err != nil {
		return probe.Pod{}, err
	}
	return probe.Pod{Namespace: p.Namespace, Name: p.Name, Container: c.Container}, nil
}

// Settings turns the timeouts into matrix settings.
func Settings(t options.TimeoutConfig) matrix.Settings {
	return matrix.Settings{RequestTimeout: t.RequestTimeout, MaxTimeToConsistency: t.MaxTimeToConsistency,
		RequiredConsecutiveSuccesses: t.RequiredConsecutiveSuccesses, RoundInterval: t.RoundInterval}
}

// Matrix runs a matrix, records it in the report, prints the table and
// fails t with it when a cell did not pass.
func (r *Run) Matrix(ctx context.Context, t *testing.T, m matrix.Matrix) matrix.Result {
	t.Helper()
	return r.judge(ctx, t, matrix.Run(ctx, m, r.Exec, r.Resolve, Settings(r.Opts.Timeouts)))
}

// judge records a matrix result, prints its table and fails t with it when
// a cell did not pass.
func (r *Run) judge(ctx context.Context, t *testing.T, res matrix.Result) matrix.Result {
	t.Helper()
	r.scope(ctx).Matrix(ReportMatrix(res))
	if r.baselineFailed.Load() {
		t.Errorf("%s", BaselineMeaning)
	}
	t.Log("\n" + r.redact.String(res.Table()))
	if !res.Passed() {
		if env := len(res.EnvironmentErrors()); env > 0 {
			t.Errorf("matrix %s: %d of %d cells failed, %d of them by environment errors (no verdict: the probe could not run; table above)",
				res.Matrix, len(res.Failed()), len(res.Cells), env)
		} else {
			t.Errorf("matrix %s: %d of %d cells failed (table above)", res.Matrix, len(res.Failed()), len(res.Cells))
		}
		r.bundle(ctx, res.Matrix, diagnostics.MatrixFailure(res))
	}
	return res
}

// Check records a named check of the feature that ctx carries (its
// assessment's or teardown's context) and fails t when err is set.
func (r *Run) Check(ctx context.Context, t *testing.T, name string, err error) {
	t.Helper()
	r.scope(ctx).Check(name, err)
	if err != nil {
		t.Errorf("%s: %s", name, r.redact.String(err.Error()))
		r.diagnose(name, err)
	}
}

// Teardown writes the report, then deletes a kind cluster this run created
// (unless --keep-cluster), and says what stays. It runs once, at the end or
// on Ctrl-C/SIGTERM.
func (r *Run) Teardown() error {
	err := r.teardown()
	if r.stopping.Load() {
		// A signal arrived: its handler tears down and exits with
		// 128+signal. The run's own path (a step failing because the
		// cluster went away) must not exit first with another code.
		select {}
	}
	return err
}

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

// provenance gathers what the verdicts rest on, bounded: the suite's
// source and fixtures, the charts installed, what the cluster ran.
func (r *Run) provenance() *reportapi.Provenance {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := &reportapi.Provenance{Suite: provenance.SourceOf(ctx, fromRepoRoot(".")), Reproduce: provenance.Reproduce(os.Args)}
	p.Fixtures, _ = provenance.Digests(fixtures.FS)
	if r.Installer != nil {
		for _, c := range r.Installer.Helm.Installed {
			p.Charts = append(p.Charts, reportapi.Chart{Release: c.Release, Namespace: c.Namespace, Chart: c.Chart, Version: c.Version, Source: c.Source, Digest: c.Digest})
		}
	}
	if r.Kube != nil {
		namespaces := append([]string{"istio-system", "istio-ingress", "cert-manager", "knative-serving", "kserve"}, r.namespaces...)
		if c, err := provenance.ClusterOf(ctx, r.Kube, namespaces); err == nil {
			p.Cluster = c
		} else {
			r.Logf("provenance: the cluster's part is missing: %v", err)
		}
	}
	return p
}

// whileRemoved registers how to put back what a feature took away, so that
// an interrupted run restores it (a user's cluster must not keep a removed
// policy); the returned func unregisters it once restored.
func (r *Run) whileRemoved(name string, restore func(context.Context) error) (done func()) {
	r.restoreMu.Lock()
	defer r.restoreMu.Unlock()
	if r.restorers == nil {
		r.restorers = map[string]func(context.Context) error{}
	}
	r.restorers[name] = restore
	return func() {
		r.restoreMu.Lock()
		defer r.restoreMu.Unlock()
		delete(r.restorers, name)
	}
}

// removing runs a removal unless the run is stopping, never at the same
// time as the restorers: a removal after Ctrl-C would outlive the run.
func (r *Run) removing(remove func() error) error {
	r.restoreMu.Lock()
	defer r.restoreMu.Unlock()
	if r.stopping.Load() {
		return fmt.Errorf("the run is stopping: nothing more is removed")
	}
	return remove()
}

// runRestorers puts back everything still taken away, each bounded.
func (r *Run) runRestorers() {
	r.restoreMu.Lock()
	defer r.restoreMu.Unlock()
	for name, restore := range r.restorers {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := restore(ctx); err != nil {
			r.Logf("restoring what %s removed: %v; put it back by hand", name, err)
		} else {
			r.Logf("restored what %s had removed", name)
		}
		cancel()
	}
	r.restorers = nil
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
// created kind cluster deleted, then the process exits.
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
// cluster deleted; then the process exits with code.
func (r *Run) stop(msg, why string, code int) {
	r.Logf("%s", msg)
	r.stopping.Store(true)
	r.runRestorers()
	r.stopRunning(why)
	if err := r.teardown(); err != nil {
		klog.Errorf("teardown: %v", err)
	}
	os.Exit(code)
}
