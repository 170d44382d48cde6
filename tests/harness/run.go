// Package harness runs a suite declared as a Suite value: options and
// e2e-framework flags, the cluster (kind through the library, or the
// user's), clients, the setup and install steps, the features (support
// levels, controls, cold sequences), the report, and a teardown that also
// runs on Ctrl-C.
//
// A suite's main_test.go holds its one Run (NewRun): TestMain hands the
// process to Run.Main, which parses the options, provisions and exits;
// the package's test runs the features through Run.Features. The run is
// named there, as e2e-framework's examples name their testenv, not kept
// out of sight in the suite's value, which stays data.
package harness

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
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

	// declared is the suite this run runs (NewRun); nil in the harness's
	// own tests, which build a Run by hand.
	declared *Suite
	// testenv is e2e-framework's environment: setup functions, features,
	// finish.
	testenv env.Environment
	// stepEnv is what every setup step is handed, built by provision.
	stepEnv *Env
	// exit carries the process's exit code to Main: the run's own, or a
	// stop's (a signal, the deadline), whichever comes first.
	exit chan int
	// kubeconfig is the file the run talks to: the user's, or the one kind
	// wrote for the cluster it created (Opts keeps what the user asked for).
	kubeconfig  string
	kubeContext string
	// redact scrubs the run's secrets from its log, report and
	// diagnostics: built once, from the environment, in parse.
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
	// installPlan is detect's plan, by component: what is found, what is
	// installed.
	installPlan map[string]detect.Step
	// planErrs are the declaration errors the dry run's plan found
	// (planFeature).
	planErrs  []error
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

// NewRun is the run of a suite in its test binary, declared in the
// suite's main_test.go; Main starts it, its test runs Features.
func NewRun(s *Suite) *Run {
	return &Run{Suite: s.Name, declared: s, exit: make(chan int, 1)}
}

// parse reads the options, the config file first and the flags (ours and
// e2e-framework's) bound over its values in one parse, and prepares the
// environment. A bad option is an error that names it, before anything
// touches a cluster. Without --mode the run is in the suite's first mode,
// its document's own; a suite without modes (the baseline) runs in none.
func (r *Run) parse(args []string) error {
	s := r.declared
	op, err := options.New(flag.CommandLine, args)
	if err != nil {
		return err
	}
	// A bad flag: the flag package prints one line naming it (and the
	// accepted values), then this usage, and exits 2.
	flag.CommandLine.Usage = func() {
		if msg := options.UnknownFlag(flag.CommandLine, args); msg != "" {
			fmt.Fprintln(os.Stderr, msg)
		}
		options.Usage(os.Stderr, s.Name)()
	}
	cfg, err := envconf.NewFromFlags()
	if err == nil {
		err = op.Finish(flag.CommandLine)
	}
	if err != nil {
		return err
	}
	o := *op
	if o.Mode == "" && len(s.Modes) > 0 {
		o.Mode = s.Modes[0]
		if err := o.Validate(); err != nil { // again: the Istio version must suit this mode
			return err
		}
	}
	if o.Cluster.Name == "" {
		o.Cluster.Name = ClusterName(s.Name, o.Mode)
	}
	o.OutputDir = filepath.Join(fromRepoRoot(o.OutputDir), s.Name)
	r.Opts, r.Versions, r.Config, r.testenv = o, s.Versions.With(o.Versions), cfg, env.NewWithConfig(cfg)
	r.redact = redact.New(options.Secrets()...)
	// The environment's versions are recorded once the plan is known
	// (provision): which components are installed or found, and at what.
	r.Report = report.NewRecorder(reportapi.Environment{Mode: string(o.Mode), Profile: s.profile(o), AsWritten: options.AsWritten(o)}).WithRedactor(r.redact)
	r.Report.SetImplementation(reportapi.Implementation(o.Implementation))
	// The cells the profiles disagree on, for the summary's side by side:
	// known from the options alone, so a report written at any point has them.
	cells, err := s.ProfileCells(o)
	if err != nil {
		return err
	}
	if len(cells) > 0 {
		r.Report.SetProfileCells(s.Name, cells)
	}
	return nil
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
