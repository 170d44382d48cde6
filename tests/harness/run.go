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
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"

	"github.com/secure-inference/mesh-conformance/tests/apply"
	"github.com/secure-inference/mesh-conformance/tests/cluster"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/detect"
	"github.com/secure-inference/mesh-conformance/tests/diagnostics"
	"github.com/secure-inference/mesh-conformance/tests/hostlock"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/probe"
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

	// testenv is e2e-framework's environment: setup functions, features,
	// finish.
	testenv env.Environment
	// stepEnv is what every setup step is handed, built by provision.
	stepEnv *Env
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
	claims    []string
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
	r := &Run{Suite: suite, Opts: o, Versions: pinned.With(o.Versions), Config: cfg, testenv: env.NewWithConfig(cfg), redact: redact.New(options.Secrets()...)}
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
		r.testenv.Setup(r.provision)
		r.testenv.Finish(func(ctx context.Context, _ *envconf.Config) (context.Context, error) { return ctx, r.Teardown() })
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
