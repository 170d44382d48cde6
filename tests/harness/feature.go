package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// Feature is one feature of a suite, as data: its name, support level,
// kind and manifests, the premises it checks and the one function that
// returns its matrices, for the run and --dry-run alike. A suite never
// writes e2e-framework code: the harness builds the feature from these
// fields (Feature.build), and the builders (Control, Bypass, FailClosed,
// ColdStart, Restarts) give the features whose run is more than checks
// and matrices a body of the harness's own.
type Feature struct {
	// Name is the short name flags and the report use.
	Name string
	// Support is Core (the zero value: always claimed) or Extended (runs
	// only when claimed).
	Support Support
	// Kind says what the feature does (its kind label, for --labels).
	Kind Kind
	// ClaimedOnOwnCluster claims an extended feature when the run uses
	// the suite's own kind cluster (one it creates, with the suite's kind
	// config): what it needs or does (a port mapping, scaling the control
	// plane to zero) suits that cluster; on anyone else's it runs only
	// when --supported-features names it.
	ClaimedOnOwnCluster bool
	// Manifests are the fixtures (paths under fixtures/) the feature
	// applies, removes or reads; each must exist (Validate).
	Manifests []string
	// Checks are the feature's premises, run in order, each recorded as
	// the check <feature>/<check name>.
	Checks []Check
	// Matrices returns the feature's matrices: the run calls it with the
	// cluster's facts once its checks ran, and runs each matrix; --dry-run
	// and the time budget call it with placeholders. An error (a fact
	// that could not be read) fails a named check instead (see FactError).
	Matrices MatrixFunc
	// Applies tells whether the feature belongs to a run with these options
	// (a profile's own feature: a control of policies only that profile
	// applies); nil: always. A feature that does not apply is left out of
	// the plan, the budget and the run, as if not declared.
	Applies func(o options.Options) bool
	// Limit is what the feature can take, from the options, for the run's
	// budget; nil: by kind (a premise the readiness limit, a control two
	// settlings per repeat, otherwise one settling per matrix).
	Limit func(o options.Options) time.Duration

	// body is the run of a feature a builder made, in place of its
	// checks and matrices.
	body func(r *Run, b *features.FeatureBuilder) *features.FeatureBuilder
	// verify checks, without a cluster, what a builder was given (a
	// control's policies decode): failing, the feature runs nothing but
	// this check.
	verify *staticCheck
}

// Check is a named premise of a feature.
type Check struct {
	Name string
	Run  func(ctx context.Context, e *Env) error
}

// MatrixFunc returns a feature's matrices from the options and the facts
// of the cluster (placeholders in a dry run).
type MatrixFunc func(ctx context.Context, o options.Options, f Facts) ([]matrix.Matrix, error)

// Fixed is the MatrixFunc of matrices that depend on nothing.
func Fixed(ms ...matrix.Matrix) MatrixFunc {
	return func(context.Context, options.Options, Facts) ([]matrix.Matrix, error) { return ms, nil }
}

// Kind is what a feature does.
type Kind string

// The kinds of feature.
const (
	// KindPremise checks what the verdicts rest on.
	KindPremise Kind = "premise"
	// KindMatrix runs matrices of cells.
	KindMatrix Kind = "matrix"
	// KindControl proves a refusal comes from a policy (Control).
	KindControl Kind = "control"
	// KindBaseline checks plain networking: failing, it voids every
	// later verdict of the run.
	KindBaseline Kind = "baseline"
	// KindCleanup removes what the document says to remove.
	KindCleanup Kind = "cleanup"
	// KindDisruption probes cells while something is taken away
	// (FailClosed, Restarts).
	KindDisruption Kind = "disruption"
)

var kinds = []Kind{KindPremise, KindMatrix, KindControl, KindBaseline, KindCleanup, KindDisruption}

// Support is a feature's support level, as in Gateway API conformance.
type Support string

// The support levels.
const (
	// Core features are always claimed: skipping one makes the suite
	// partial. A feature without a level is core.
	Core Support = reportapi.Core
	// Extended features run only when claimed.
	Extended Support = reportapi.Extended
)

// level is the feature's support level, core unless it says extended.
func (f Feature) level() Support {
	if f.Support == "" {
		return Core
	}
	return f.Support
}

// staticCheck is a check of a feature's declaration, made without a
// cluster.
type staticCheck struct {
	name string
	run  func() error
}

// declared is what is wrong with the feature as declared, each as the
// check it fails (<feature>/<name>): nothing here needs a cluster, so
// --dry-run prints the same errors under the feature.
func (f Feature) declared() map[string]error {
	out := map[string]error{}
	var decl []error
	if !slices.Contains(kinds, f.Kind) {
		decl = append(decl, fmt.Errorf("kind %q is none of %v", f.Kind, kinds))
	}
	if f.Support != "" && f.Support != Core && f.Support != Extended {
		decl = append(decl, fmt.Errorf("support %q is neither %s nor %s", f.Support, Core, Extended))
	}
	if f.ClaimedOnOwnCluster && f.level() != Extended {
		decl = append(decl, fmt.Errorf("claimed on its own cluster, but a core feature is always claimed"))
	}
	if f.body == nil && len(f.Checks) == 0 && f.Matrices == nil {
		decl = append(decl, fmt.Errorf("no checks and no matrices: it would prove nothing"))
	}
	if len(decl) > 0 {
		out["declaration"] = errors.Join(decl...)
	}
	var missing []error
	for _, m := range f.Manifests {
		if _, err := fs.Stat(fixtures.FS, m); err != nil {
			missing = append(missing, fmt.Errorf("manifest fixtures/%s does not exist", m))
		}
	}
	if len(missing) > 0 {
		out["manifests"] = errors.Join(missing...)
	}
	if f.verify != nil {
		if err := f.verify.run(); err != nil {
			out[f.verify.name] = err
		}
	}
	return out
}

// Validate says what is wrong with the feature as declared (its kind, its
// support level and claim, its manifests, what a builder was given); the
// suites' unit tests call it on every feature.
func (f Feature) Validate() error {
	problems := f.declared()
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(problems)) {
		errs = append(errs, fmt.Errorf("%s/%s: %w", f.Name, name, problems[name]))
	}
	return errors.Join(errs...)
}

// build makes the e2e-framework feature, labelled with the suite, its kind
// and support level for --labels selection. A feature declared wrong runs
// nothing but the checks its declaration fails; a builder's feature runs
// its body; any other runs its checks, then its matrices.
func (f Feature) build(r *Run) features.Feature {
	b := features.New(f.Name).WithLabel("suite", r.Suite).WithLabel("kind", string(f.Kind)).WithLabel(SupportLabel, string(f.level()))
	if problems := f.declared(); len(problems) > 0 {
		return b.Assess("declared", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			for _, name := range slices.Sorted(maps.Keys(problems)) {
				r.Check(ctx, t, f.Name+"/"+name, problems[name])
			}
			return ctx
		}).Feature()
	}
	if f.body != nil {
		return f.body(r, b).Feature()
	}
	for _, c := range f.Checks {
		b = b.Assess(c.Name, func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			r.Check(ctx, t, f.Name+"/"+c.Name, c.Run(ctx, r.env()))
			return ctx
		})
	}
	if f.Matrices != nil {
		b = b.Assess("matrices", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			for _, m := range r.matrices(ctx, t, f) {
				if res := r.Matrix(ctx, t, m); !res.Passed() && f.Kind == KindBaseline {
					r.MarkBaselineFailed(ctx)
				}
			}
			return ctx
		})
	}
	return b.Feature()
}

// matrices are the feature's matrices from the cluster's facts; a fact
// that could not be read fails its check and no matrix runs.
func (r *Run) matrices(ctx context.Context, t *testing.T, f Feature) []matrix.Matrix {
	t.Helper()
	e := r.env()
	ms, err := f.Matrices(ctx, e.Opts, e)
	if err != nil {
		r.Check(ctx, t, f.Name+"/"+checkOf(err), err)
		return nil
	}
	return ms
}

// planned are the feature's matrices as --dry-run shows them: the facts
// are placeholders.
func (f Feature) planned(o options.Options) ([]matrix.Matrix, error) {
	if f.Matrices == nil {
		return nil, nil
	}
	return f.Matrices(context.Background(), o, placeholders{o})
}

// planFeature prints a feature as --dry-run shows it: its support level
// and kind (an unclaimed extended feature says how to claim it), its
// manifests, what is wrong with its declaration, and each of its
// matrices' cells, with placeholders for the cluster's facts.
func (r *Run) planFeature(w io.Writer, f Feature) {
	claim := ""
	if f.level() == Extended && !r.Claimed(f) {
		claim = ", not claimed: --supported-features=" + f.Name + " runs it"
	}
	fmt.Fprintf(w, "- %s [%s, %s%s]\n", f.Name, f.level(), f.Kind, claim)
	if len(f.Manifests) > 0 {
		fmt.Fprintf(w, "  manifests: %s\n", strings.Join(f.Manifests, ", "))
	}
	problems := f.declared()
	for _, name := range slices.Sorted(maps.Keys(problems)) {
		fmt.Fprintf(w, "  cannot run: check %s/%s fails: %s\n", f.Name, name, strings.ReplaceAll(problems[name].Error(), "\n", "; "))
	}
	if err := f.Validate(); err != nil {
		r.planErrs = append(r.planErrs, err)
	}
	ms, err := f.planned(r.Opts)
	if err != nil {
		fmt.Fprintf(w, "  matrices: %v\n", err)
		r.planErrs = append(r.planErrs, fmt.Errorf("%s: matrices: %w", f.Name, err))
	}
	for _, m := range ms {
		fmt.Fprint(w, indent(m.Plan(), "  "))
	}
}
