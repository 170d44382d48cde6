package harness

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/diagnostics"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
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
	// Claims are the extended features the suite claims by itself under
	// these options, as if --supported-features named them (what its own
	// kind cluster provides, such as a port mapping); nil: none.
	Claims func(o options.Options) []string
	// CheckOptions checks the suite's own options before any cluster is
	// touched; claimed tells whether an extended feature will run. An
	// error ends the run with exit code 2.
	CheckOptions func(o options.Options, claimed func(feature string) bool) error
	// Steps are the setup steps in order, from the options (a step's name
	// or limit may depend on them); each is handed the run's Env.
	Steps func(o options.Options) []Step
	// Features are run in order after setup.
	Features []Feature
}

// Extended is the support level of a feature that runs only when claimed,
// as in Gateway API conformance; a feature without one is core: always
// claimed, and skipping it makes the suite partial.
const Extended = reportapi.Extended

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

// Feature is one feature of a suite: its short name, support level, kind
// and manifests are data (--dry-run and the report list them without a
// cluster); Body adds its assessments.
type Feature struct {
	// Name is the short name flags and the report use.
	Name string
	// Support is Extended (runs only when claimed) or empty: core, always
	// claimed.
	Support string
	// Kind is premise, matrix, control, baseline or cleanup (the kind
	// label, for --labels).
	Kind string
	// Manifests are the fixtures (paths under fixtures/) the feature
	// applies, removes or reads.
	Manifests []string
	// Body adds the assessments and teardowns to the builder the harness
	// started with the feature's name and labels; name is that name, for
	// the names of checks.
	Body func(r *Run, name string, b *features.FeatureBuilder) *features.FeatureBuilder
	// Matrices are the feature's matrices as --dry-run lists them, built
	// from the options alone: what only the cluster knows (an address, the
	// trust domain) appears as a <placeholder>.
	Matrices func(r *Run) []matrix.Matrix
	// Limit is what the feature can take, from the options, for the run's
	// budget; nil: by kind (a premise the readiness limit, a control two
	// settlings per repeat, otherwise one settling per matrix).
	Limit func(o options.Options) time.Duration
}

// build makes the e2e-framework feature.
func (f Feature) build(r *Run) features.Feature {
	support := f.Support
	if support == "" {
		support = reportapi.Core
	}
	return f.Body(r, f.Name, r.feature(f.Name, f.Kind, support)).Feature()
}

// planFeatures prints each feature with its support level and manifests,
// and each of its matrices' cells with client, request and expectation.
func (s *Suite) planFeatures(w io.Writer, r *Run) {
	fmt.Fprintln(w, "\nfeatures:")
	for _, f := range s.Features {
		support := f.Support
		if support == "" {
			support = reportapi.Core
		}
		claim := ""
		if support == reportapi.Extended && !r.Claimed(f.Name) {
			claim = ", not claimed: --supported-features=" + f.Name + " runs it"
		}
		fmt.Fprintf(w, "- %s [%s, %s%s]\n", f.Name, support, f.Kind, claim)
		if len(f.Manifests) > 0 {
			fmt.Fprintf(w, "  manifests: %s\n", strings.Join(f.Manifests, ", "))
		}
		if f.Matrices == nil {
			continue
		}
		for _, m := range f.Matrices(r) {
			fmt.Fprint(w, indent(m.Plan(), "  "))
		}
	}
}

// Features runs the suite's features in order (see Run.Test), the
// package's one test; Main must have started the run.
func (r *Run) Features(t *testing.T) {
	t.Helper()
	if r.testenv == nil {
		t.Fatalf("suite %s: the run's features need its Main in the package's TestMain", r.Suite)
	}
	fs := make([]features.Feature, len(r.declared.Features))
	for i, f := range r.declared.Features {
		fs[i] = f.build(r)
	}
	r.Test(t, fs...)
}
