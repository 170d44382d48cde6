package harness

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/diagnostics"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/versions"
)

// Suite is one conformance suite as a value, the way Gateway API's
// ConformanceTest carries its name, features, manifests and body: what it
// pins, where it runs, what it needs, its ordered setup steps and its
// features. A suite's package declares it; its main_test.go makes its Run
// (NewRun), whose Main and Features run it; the lab runs its cells against
// stand-ins.
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
	// CheckOptions checks the suite's own options before any cluster is
	// touched; claimed tells whether an extended feature will run
	// (Run.Claimed). An error ends the run with exit code 2.
	CheckOptions func(o options.Options, claimed func(f Feature) bool) error
	// Steps are the setup steps in order, from the options (a step's name
	// or limit may depend on them); each is handed the run's Env.
	Steps func(o options.Options) []Step
	// Features are run in order after setup.
	Features []Feature
	// Profile names the setup profile the options select, for the
	// report's environment; nil: the suite has one setup.
	Profile func(o options.Options) string
	// Profiles are the options of a run under each of the suite's setup
	// profiles (the run's options with only the profile changed), so that
	// the report puts side by side the cells whose expectation differs
	// between them (ProfileCells); nil: the suite has one setup.
	Profiles func(o options.Options) []options.Options
	// Deviations are where the suite does not do what its document says
	// (the corrections of docs/FACTS.md, and what it adds), each naming
	// the setup step or feature concerned; a run reports those of its own
	// steps (CheckDeviations keeps the names real).
	Deviations []Deviation
	// AsWritten: the suite has an as-written run (--setup=as-written), its
	// document's steps as printed, which its steps and features read from
	// Options.Setup; the report marks it, and the summary keeps its results
	// apart from the conformance verdicts. False: the option is refused.
	AsWritten bool
}

// Step is one named setup step.
type Step struct {
	Name string
	// Component marks an install step of that component (detect's names):
	// it is skipped when the plan found the component in place.
	Component string
	// Run does the step, with what the Env holds: the cluster's clients,
	// the installer, the options.
	Run func(ctx context.Context, e *Env) error
	// Limit is what the step can take, for the run's budget; zero: the
	// install limit for an install step, the readiness limit for others.
	Limit time.Duration
}

// planFeatures prints each feature with its support level and manifests,
// and each of its matrices' cells with client, request and expectation.
func (s *Suite) planFeatures(w io.Writer, r *Run) {
	fmt.Fprintln(w, "\nfeatures:")
	for _, f := range s.features(r.Opts) {
		r.planFeature(w, f)
	}
}

// Features runs the suite's features in order (see Run.Test), the
// package's one test; Main must have started the run.
func (r *Run) Features(t *testing.T) {
	t.Helper()
	if r.testenv == nil {
		t.Fatalf("suite %s: the run's features need its Main in the package's TestMain", r.Suite)
	}
	r.Test(t, r.declared.features(r.Opts)...)
}

// profile is the setup profile of a run with these options ("": the
// suite has one).
func (s *Suite) profile(o options.Options) string {
	if s == nil || s.Profile == nil {
		return ""
	}
	return s.Profile(o)
}

// checkSetup refuses --setup=as-written for a suite that has no
// as-written run.
func (s *Suite) checkSetup(o options.Options) error {
	if options.AsWritten(o) && !s.AsWritten {
		return fmt.Errorf("--setup=%s: suite %s has no as-written run", options.SetupAsWritten, s.Name)
	}
	return nil
}

// features are the suite's features that apply with these options
// (Feature.Applies), in order.
func (s *Suite) features(o options.Options) []Feature {
	var out []Feature
	for _, f := range s.Features {
		if f.Applies == nil || f.Applies(o) {
			out = append(out, f)
		}
	}
	return out
}
