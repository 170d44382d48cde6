package harness

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	"sigs.k8s.io/e2e-framework/pkg/types"

	"github.com/secure-inference/mesh-conformance/tests/report"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// SupportLabel is the feature label that holds its support level
// (core or extended).
const SupportLabel = "support"

// Test runs a suite's features in order, as Gateway API conformance does:
// core features always run unless exempt; an extended feature runs only
// when claimed (see Claimed) and is otherwise reported as unsupported.
// Every feature's result is recorded: exempt, unclaimed or unselected
// (--feature, --labels) features as skipped, so a skipped core feature
// makes the suite partial, never success. A feature name that the suite
// does not have fails the test.
func (r *Run) Test(t *testing.T, fs ...Feature) {
	t.Helper()
	support := map[string]Support{}
	var extended []string
	for _, f := range fs {
		support[f.Name] = f.level()
		if f.level() == Extended {
			extended = append(extended, f.Name)
		}
	}
	exempt := map[string]bool{}
	for _, e := range r.ForThisSuite(r.Opts.ExemptFeatures) {
		if support[e] == "" {
			t.Fatalf("--exempt-features %q: no such feature in suite %s; its features are %s", e, r.Suite, featureNames(fs))
		}
		exempt[e] = true
	}
	for _, c := range r.ForThisSuite(r.Opts.SupportedFeatures) {
		switch support[c] {
		case "":
			t.Fatalf("--supported-features %q: no such feature in suite %s; its extended features are %s", c, r.Suite, listOrNone(extended))
		case Core:
			t.Fatalf("--supported-features %q: a core feature, always claimed; the extended features of suite %s are %s", c, r.Suite, listOrNone(extended))
		}
	}
	var runs []*featureRun
	for _, f := range fs {
		level := string(f.level())
		switch {
		case exempt[f.Name]:
			r.Report.Feature(r.Suite, reportapi.Feature{Name: f.Name, Support: level, Result: reportapi.Skipped, Message: "exempt (--exempt-features)",
				Unsupported: f.level() == Extended})
		case f.level() == Extended && !r.Claimed(f):
			r.Report.Feature(r.Suite, reportapi.Feature{Name: f.Name, Support: level, Result: reportapi.Skipped, Unsupported: true,
				Message: "not claimed: pass --supported-features=" + f.Name + " to run it"})
		default:
			runs = append(runs, newFeatureRun(r, f.build(r), level))
		}
	}
	run := make([]features.Feature, len(runs))
	for i, fr := range runs {
		run[i] = fr
	}
	r.testenv.Test(t, run...)
	for _, fr := range runs {
		fr.after()
	}
}

// Claimed reports whether an extended feature will run: claimed (by
// --supported-features, --all-features, or as ClaimedOnOwnCluster on the
// suite's own kind cluster) and not exempt.
func (r *Run) Claimed(f Feature) bool {
	claimed := r.Opts.AllFeatures || slices.Contains(r.ForThisSuite(r.Opts.SupportedFeatures), f.Name) ||
		(f.ClaimedOnOwnCluster && r.Opts.OwnKindCluster())
	return claimed && !slices.Contains(r.ForThisSuite(r.Opts.ExemptFeatures), f.Name)
}

// ForThisSuite keeps the feature names meant for this suite: a name may be
// qualified as <suite>/<feature>, so that one flag or config file serves a
// run of several suites; a name qualified with another suite is dropped.
func (r *Run) ForThisSuite(names []string) []string {
	var out []string
	for _, n := range names {
		if suite, feature, ok := strings.Cut(n, "/"); ok {
			if suite != r.Suite {
				continue
			}
			n = feature
		}
		out = append(out, n)
	}
	return out
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func featureNames(fs []Feature) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return strings.Join(out, ", ")
}

// featureRun wraps a feature to record its result: the feature's own
// *testing.T says whether it failed; an assessment that --assess left out
// makes it skipped; a feature that started but never reached its last
// teardown was stopped by a fatal error. Its first setup opens the
// feature's report scope and puts it in the context that every later step
// of the feature receives: checks and matrices find their feature there.
type featureRun struct {
	features.Feature
	run         *Run
	level       string
	steps       []types.Step
	scope       *report.Scope
	t           *testing.T
	assessments int
	assessed    int
}

// Steps are the feature's own, between a first setup and a last teardown
// that record it; the framework asks for them more than once.
func (fr *featureRun) Steps() []types.Step { return fr.steps }

func newFeatureRun(r *Run, f features.Feature, level string) *featureRun {
	fr := &featureRun{Feature: f, run: r, level: level}
	begin := features.New("").Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		fr.scope, fr.t = r.Report.Start(r.Suite, fr.Name(), fr.level), t
		r.running(fr, true)
		return report.WithScope(ctx, fr.scope)
	}).Feature().Steps()
	steps := append([]types.Step(nil), begin...)
	for _, s := range fr.Feature.Steps() {
		if s.Level() != types.LevelAssess {
			steps = append(steps, s)
			continue
		}
		fr.assessments++
		fn := s.Func()
		steps = append(steps, features.New("").WithStep(s.Name(), s.Level(), func(ctx context.Context, t *testing.T, c *envconf.Config) context.Context {
			defer func() {
				if !t.Skipped() {
					fr.assessed++
				}
			}()
			return fn(ctx, t, c)
		}).Feature().Steps()...)
	}
	end := features.New("").Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		result, msg := reportapi.Success, ""
		switch {
		case t.Failed():
			result = reportapi.Failure
		case fr.assessed < fr.assessments:
			result, msg = reportapi.Skipped, fmt.Sprintf("%d of %d assessments ran (--assess/--skip-assessment)", fr.assessed, fr.assessments)
		}
		fr.finish(result, msg)
		return ctx
	}).Feature().Steps()
	fr.steps = append(steps, end...)
	return fr
}

// finish records the feature's result once, and forgets it as running.
func (fr *featureRun) finish(result reportapi.Result, msg string) {
	fr.scope.Finish(result, msg)
	fr.run.running(fr, false)
}

// after records the features that did not record themselves.
func (fr *featureRun) after() {
	if fr.scope == nil {
		fr.run.Report.Feature(fr.run.Suite, reportapi.Feature{Name: fr.Name(), Support: fr.level, Result: reportapi.Skipped,
			Message: "did not run: not selected (--feature, --labels, --skip-features) or the run stopped before it"})
		return
	}
	// No effect if its teardown recorded it.
	fr.finish(reportapi.Failure, "stopped by a fatal error before its teardown")
}

// running tracks the features under way, for stopRunning alone: results
// never find their feature through it (they use the context).
func (r *Run) running(fr *featureRun, on bool) {
	r.runningMu.Lock()
	defer r.runningMu.Unlock()
	if on {
		r.runningFeatures = append(r.runningFeatures, fr)
	} else {
		r.runningFeatures = slices.DeleteFunc(r.runningFeatures, func(o *featureRun) bool { return o == fr })
	}
}

// stopRunning records the features a signal interrupts, before the report
// is written: a feature whose test already failed has failed; any other
// has no verdict, so it is skipped, never passed. The feature's own
// teardown may still come; whichever records first decides.
func (r *Run) stopRunning(sig string) {
	r.runningMu.Lock()
	open := slices.Clone(r.runningFeatures)
	r.runningMu.Unlock()
	for _, fr := range open {
		if fr.t.Failed() {
			fr.finish(reportapi.Failure, "failed, then interrupted ("+sig+")")
		} else {
			fr.finish(reportapi.Skipped, "interrupted ("+sig+") before it finished")
		}
	}
}
