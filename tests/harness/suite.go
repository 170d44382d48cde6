package harness

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/e2e-framework/pkg/env"

	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/diagnostics"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/versions"
)

// Suite is one conformance suite as a value, the way Gateway API's
// ConformanceTest carries its name, features, manifests and body: what it
// pins, where it runs, what it needs, its ordered setup steps and its
// features. A suite's package declares it; its main_test.go hands it to
// Main and Features; the lab runs its cells against stand-ins.
type Suite struct {
	// Name is the suite's short name: its folder under suites/, fixtures/
	// and the output directory, and the prefix of its kind cluster.
	Name string
	// Modes are the data-plane modes the suite runs in, its document's own
	// first (the default of --mode). None: the suite has no mesh.
	Modes []dataplane.Mode
	// Versions are the pinned component versions; options override them.
	Versions versions.Set
	// KindConfig is the suite's kind cluster configuration, a file under
	// kind-config/ (empty: kind's default single node).
	KindConfig string
	// IstioGateway is the ingress gateway the suite's Istio has; nil: the
	// suite installs no Istio.
	IstioGateway *install.Gateway
	// Components are what the suite installs besides Istio (detect's
	// names): found in place, they are used, not installed again.
	Components []string
	// Namespaces are diagnosed (pods, events, logs, proxy configuration)
	// when a setup step or a check fails.
	Namespaces []string
	// Diagnostics are resources added to every diagnostics bundle.
	Diagnostics []diagnostics.Extra
	// Prepare checks the suite's own options (with the run's, before any
	// cluster is touched): an error ends the run with exit code 2.
	Prepare func(r *Run) error
	// Setup lists the setup steps in order, once the options are known.
	Setup func(r *Run) []Step
	// Features are run in order after setup.
	Features []Feature

	run *Run
}

// Step is one named setup step.
type Step struct {
	Name string
	// Component marks an install step of that component (detect's names):
	// it is skipped when the plan found the component in place.
	Component string
	Run       func(ctx context.Context) error
	// Limit is what the step can take, for the run's budget; zero: the
	// install limit for an install step, the readiness limit for others.
	Limit time.Duration
}

// Main is a suite's TestMain: options, the cluster, the setup steps, then
// the package's tests (Features), then the teardown; it exits the process.
func Main(m *testing.M, s *Suite) {
	r := Setup(s.Name, s.Versions, s.Modes...)
	r.kindConfig = s.KindConfig
	s.run = r
	if s.Prepare != nil {
		if err := s.Prepare(r); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", s.Name, err)
			os.Exit(2)
		}
	}
	r.AddDiagnostics(s.Diagnostics...)
	r.DiagnoseNamespaces(s.Namespaces...)
	if s.IstioGateway != nil {
		r.NeedsIstio(r.Opts.Mode, *s.IstioGateway)
	}
	r.Needs(s.Components...)
	var steps []Step
	if s.Setup != nil {
		steps = s.Setup(r)
	}
	r.budget = s.budget(r, steps)
	if r.Config.DryRunMode() {
		s.plan(os.Stdout, r, steps)
	} else {
		// Before anything is created or touched: a run that go test would
		// kill midway must not start.
		if err := checkTimeout(s.Name, testTimeout(), r.budget); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", s.Name, err)
			os.Exit(2)
		}
		r.watchDeadline()
	}
	var funcs []env.Func
	if s.Setup != nil {
		for _, st := range steps {
			if st.Component != "" {
				funcs = append(funcs, r.Install(st.Component, st.Name, st.Run))
			} else {
				funcs = append(funcs, r.Step(st.Name, st.Run))
			}
		}
	}
	r.Env.Setup(funcs...)
	os.Exit(r.Env.Run(m))
}

// plan prints what a run would do, as the report would name it: the setup
// steps, then each feature with its support level and manifests, and each
// of its matrices' cells with client, request and expectation.
func (s *Suite) plan(w io.Writer, r *Run, steps []Step) {
	mode := "no mesh"
	if r.Opts.Mode != "" && len(s.Modes) > 0 {
		mode = string(r.Opts.Mode) + " mode"
	}
	fmt.Fprintf(w, "%s (%s): dry run, nothing is touched\n\n", s.Name, mode)
	fmt.Fprintf(w, "time: a real run can take %s\n%s\n\nsetup steps:\n", r.budget, timeoutVerdict(s.Name, testTimeout(), r.budget))
	for i, st := range steps {
		what := ""
		if st.Component != "" {
			what = " (installs " + st.Component + " unless the cluster has it)"
		}
		fmt.Fprintf(w, "  %2d. %s%s\n", i+1, st.Name, what)
	}
	fmt.Fprintln(w, "\nfeatures:")
	for _, f := range s.Features {
		r.planFeature(w, f)
	}
	fmt.Fprintln(w)
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}

// Features runs the suite's features in order (see Run.Test); Main must
// have started the run.
func Features(t *testing.T, s *Suite) {
	t.Helper()
	if s.run == nil {
		t.Fatalf("suite %s: harness.Features needs harness.Main(m, ...) in the package's TestMain", s.Name)
	}
	s.run.Test(t, s.Features...)
}
