package harness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	"sigs.k8s.io/e2e-framework/pkg/types"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/coldstart"
	"github.com/secure-inference/mesh-conformance/tests/disruption"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/mesh"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	"github.com/secure-inference/mesh-conformance/tests/report"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// SupportLabel is the feature label that holds its support level
// (reportapi.Core or reportapi.Extended).
const SupportLabel = "support"

// Test runs a suite's features in order, as Gateway API conformance does:
// core features always run unless exempt; an extended feature runs only
// when claimed (--supported-features, --all-features or Claim) and is
// otherwise reported as unsupported. Every feature's result is recorded:
// exempt, unclaimed or unselected (--feature, --labels) features as
// skipped, so a skipped core feature makes the suite partial, never
// success. A feature name that the suite does not have fails the test.
func (r *Run) Test(t *testing.T, fs ...features.Feature) {
	t.Helper()
	support := map[string]string{}
	var extended []string
	for _, f := range fs {
		support[f.Name()] = supportOf(f)
		if support[f.Name()] == reportapi.Extended {
			extended = append(extended, f.Name())
		}
	}
	exempt := map[string]bool{}
	for _, e := range r.ForThisSuite(r.Opts.ExemptFeatures) {
		if support[e] == "" {
			t.Fatalf("--exempt-features %q: no such feature in suite %s; its features are %s", e, r.Suite, featureNames(fs))
		}
		exempt[e] = true
	}
	for _, c := range append(r.ForThisSuite(r.Opts.SupportedFeatures), r.claims...) {
		switch support[c] {
		case "":
			t.Fatalf("--supported-features %q: no such feature in suite %s; its extended features are %s", c, r.Suite, listOrNone(extended))
		case reportapi.Core:
			t.Fatalf("--supported-features %q: a core feature, always claimed; the extended features of suite %s are %s", c, r.Suite, listOrNone(extended))
		}
	}
	var runs []*featureRun
	for _, f := range fs {
		name, level := f.Name(), support[f.Name()]
		switch {
		case exempt[name]:
			r.Report.Feature(r.Suite, reportapi.Feature{Name: name, Support: level, Result: reportapi.Skipped, Message: "exempt (--exempt-features)",
				Unsupported: level == reportapi.Extended})
		case level == reportapi.Extended && !r.Claimed(name):
			r.Report.Feature(r.Suite, reportapi.Feature{Name: name, Support: level, Result: reportapi.Skipped, Unsupported: true,
				Message: "not claimed: pass --supported-features=" + name + " to run it"})
		default:
			runs = append(runs, newFeatureRun(r, f, level))
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

// Claimed reports whether an extended feature will run: claimed and not
// exempt.
func (r *Run) Claimed(feature string) bool {
	mine := r.ForThisSuite(r.Opts.SupportedFeatures)
	return (r.Opts.AllFeatures || slices.Contains(mine, feature) || slices.Contains(r.claims, feature)) &&
		!slices.Contains(r.ForThisSuite(r.Opts.ExemptFeatures), feature)
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

func supportOf(f features.Feature) string {
	for _, v := range f.Labels()[SupportLabel] {
		if v == reportapi.Extended {
			return reportapi.Extended
		}
	}
	return reportapi.Core
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
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

func featureNames(fs []features.Feature) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name())
	}
	return strings.Join(out, ", ")
}

// feature starts the e2e-framework feature of a Feature, labelled with the
// suite, its kind (premise, matrix, control, baseline, cleanup) and support
// level, for --labels selection.
func (r *Run) feature(name, kind, support string) *features.FeatureBuilder {
	return features.New(name).WithLabel("suite", r.Suite).WithLabel("kind", kind).WithLabel(SupportLabel, support)
}

// MatrixBody is the body of a feature whose one assessment runs a matrix,
// built when the assessment runs (it may need what setup created, such as
// addresses).
func MatrixBody(assess string, build func(ctx context.Context, t *testing.T, r *Run) matrix.Matrix) func(*Run, string, *features.FeatureBuilder) *features.FeatureBuilder {
	return func(r *Run, _ string, b *features.FeatureBuilder) *features.FeatureBuilder {
		return b.Assess(assess, func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			r.Matrix(ctx, t, build(ctx, t, r))
			return ctx
		})
	}
}

// Control makes f a control: it proves that a refusal comes from the given
// Istio policies (AuthorizationPolicy, PeerAuthentication, removed and
// restored through Istio's typed client): with them removed the control
// matrix must pass (the refused request now answers), and with them
// restored the restored matrix must pass again. A
// suite that passes with its policy absent would be worse than none. Each
// of --control-repeats cycles times both changes, from the API write to
// the round that began the passing streak (time to open, time to revoke);
// --max-time-to-revoke makes the slowest revoke a verdict. What was
// removed is put back on failure and on Ctrl-C. The policies' fixture
// files are the feature's manifests.
//
// The policies are named, not decoded, here: a suite declares its
// controls as package-level values, and a fixture decoded there would
// panic every binary importing the suite (the API server tier's, the
// lab's) before any test ran. They are decoded when the feature is built
// or planned: a fixture that does not decode fails the control's check
// <name>/fixtures, naming the file, the object and the field, and
// --dry-run prints the same error under the feature.
func Control(f Feature, policies []PolicyFixture, without, restored func(r *Run) matrix.Matrix) Feature {
	f.Kind = "control"
	f.Manifests = nil
	for _, p := range policies {
		if !slices.Contains(f.Manifests, p.File) {
			f.Manifests = append(f.Manifests, p.File)
		}
	}
	f.Body = func(r *Run, name string, b *features.FeatureBuilder) *features.FeatureBuilder {
		decoded, err := decodePolicies(policies)
		return r.control(b, name, decoded, err, without(r), restored(r))
	}
	f.Matrices = func(r *Run) []matrix.Matrix {
		// The plan's only call into a control (its time limit counts
		// repeats, not matrices), so the error shows once, under the
		// feature it stops.
		if _, err := decodePolicies(policies); err != nil {
			r.PlanError(fmt.Errorf("%s cannot run: %w", f.Name, err))
		}
		return []matrix.Matrix{without(r), restored(r)}
	}
	return f
}

// PolicyFixture names an Istio policy a control removes and restores: its
// fixture file (a path under fixtures/), kind and name.
type PolicyFixture struct {
	File, Kind, Name string
}

// decodePolicies picks each policy from its fixture and decodes it as
// Istio's type; errors name the fixture file, each failing policy's.
func decodePolicies(policies []PolicyFixture) ([]mesh.Policy, error) {
	var out []mesh.Policy
	var errs []error
	for _, pf := range policies {
		u, err := fixtures.Pick(pf.File, pf.Kind, pf.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p, err := mesh.PolicyOf(u)
		if err != nil {
			errs = append(errs, fmt.Errorf("fixtures/%s: %w", pf.File, err))
			continue
		}
		out = append(out, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...) // none: a control removes all of them or nothing
	}
	return out, nil
}

// control runs the cycles; fixtureErr, a policy whose fixture did not
// decode, fails the check <name>/fixtures and nothing is removed.
func (r *Run) control(b *features.FeatureBuilder, name string, policies []mesh.Policy, fixtureErr error, without, restored matrix.Matrix) *features.FeatureBuilder {
	remove := func(ctx context.Context) error {
		return r.removing(func() error {
			for _, p := range policies {
				if err := p.Remove(ctx, r.Istio); err != nil {
					return err
				}
			}
			return nil
		})
	}
	restore := func(ctx context.Context) error {
		var errs []error
		for _, p := range policies { // every one, whatever failed before
			errs = append(errs, p.Restore(ctx, r.Istio))
		}
		return errors.Join(errs...)
	}
	return b.Assess("refused-cells-answer-without-it-and-refuse-again-with-it", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
		if fixtureErr != nil {
			r.Check(ctx, t, name+"/fixtures", fixtureErr)
			return ctx
		}
		to := r.Opts.Timeouts
		timing := reportapi.Timing{Control: name, ResolutionSeconds: to.RoundInterval.Seconds(), MaxTimeToRevokeSeconds: to.MaxTimeToRevoke.Seconds()}
		done := r.whileRemoved(name, restore)
		defer done()
		for i := 1; i <= r.Opts.ControlRepeats; i++ {
			res, open, err := matrix.Converge(ctx, remove, without, r.Exec, r.Resolve, Settings(to))
			r.Check(ctx, t, name+"/remove", err)
			if err == nil {
				r.judge(ctx, t, res)
			}
			back, revoke, rerr := matrix.Converge(ctx, restore, restored, r.Exec, r.Resolve, Settings(to))
			r.Check(ctx, t, name+"/restore", rerr)
			if rerr == nil {
				r.judge(ctx, t, back)
			}
			if err != nil || rerr != nil || !res.Passed() || !back.Passed() {
				break // a failing control is no timing sample; its matrices say why
			}
			timing.OpenSeconds = append(timing.OpenSeconds, open.Seconds())
			timing.RevokeSeconds = append(timing.RevokeSeconds, revoke.Seconds())
			r.Logf("%s %d/%d: open after %s, refused again after %s (resolution %s)", name, i, r.Opts.ControlRepeats,
				open.Round(time.Millisecond), revoke.Round(time.Millisecond), to.RoundInterval)
		}
		timing.MedianOpen, timing.MaxOpen = report.Stats(timing.OpenSeconds)
		timing.MedianRevoke, timing.MaxRevoke = report.Stats(timing.RevokeSeconds)
		if to.MaxTimeToRevoke > 0 && len(timing.RevokeSeconds) > 0 {
			timing.Result = reportapi.Success
			if timing.MaxRevoke > to.MaxTimeToRevoke.Seconds() {
				timing.Result = reportapi.Failure
				t.Errorf("%s: the restored resources took up to %.1fs to refuse again, over --max-time-to-revoke=%s", name, timing.MaxRevoke, to.MaxTimeToRevoke)
			}
		}
		r.scope(ctx).Timing(timing)
		return ctx
	}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			// Idempotent: whatever happened above, the resources are back.
			r.Check(ctx, t, name+"/restored", restore(ctx))
			return ctx
		})
}

// ColdSequences runs cold sequences against a scale-to-zero target from
// each client, repeats times, each after the target scaled back to zero.
// Each cold request is recorded as a finding (what came back, curl's
// evidence, time to first byte, time to ready), never as a verdict; a
// sequence that could not be observed (the target never went cold, the
// exec failed) fails the check named name/<client>.
func (r *Run) ColdSequences(ctx context.Context, t *testing.T, name string, target coldstart.Target, clients []matrix.Client,
	req probe.Request, repeats int, note string) []coldstart.Sample {
	t.Helper()
	to := r.Opts.Timeouts
	s := coldstart.Settings{ColdWait: to.ReadyTimeout, WarmWait: to.ColdStartTimeout + to.ReadyTimeout, RequestTimeout: to.ColdStartTimeout, Poll: 2 * time.Second}
	var out []coldstart.Sample
	for i := 1; i <= repeats; i++ {
		for _, c := range clients {
			pod, err := r.Resolve(ctx, c)
			var sample coldstart.Sample
			if err == nil {
				sample, err = coldstart.Probe(ctx, r.Exec, pod, req, target, s)
			}
			r.Check(ctx, t, fmt.Sprintf("%s/%s-%d", name, c.Name, i), err)
			if err != nil {
				continue
			}
			served := "refused while cold"
			if sample.Served() {
				served = "SERVED while cold: isolation did not hold during the cold start"
			}
			r.Logf("%s: %s -> %s cold (%s): %s, first byte after %s, ready after %s", name, c.Name, req, sample.Cold, sample.Outcome,
				sample.TimeToFirstByte.Round(time.Millisecond), sample.TimeToReady.Round(time.Millisecond))
			r.scope(ctx).Finding(reportapi.Finding{Name: fmt.Sprintf("%s/%s-%d", name, c.Name, i), Client: c.Name, Request: req.String(),
				Observed: sample.Outcome.String() + " (" + served + ")", Note: note, Evidence: ReportEvidence(sample.Outcome.Evidence),
				Seconds: map[string]float64{"timeToFirstByte": sample.TimeToFirstByte.Seconds(), "timeToReady": sample.TimeToReady.Seconds()}})
			out = append(out, sample)
		}
	}
	return out
}

// WarmMatrix is the warm verdict on a scale-to-zero target: m runs once the
// target is warm (a ready pod, the activator off the path), while keepWarm,
// an allowed cell, is sent every round so that the autoscaler does not
// scale the target to zero mid-verdict (m's cells stop being probed as they
// pass, and a refused request never reaches queue-proxy). A look that
// finds the target not warm while m runs voids the verdict, as an
// environment error that names what was seen (coldstart.WhileWarm).
func (r *Run) WarmMatrix(ctx context.Context, t *testing.T, name string, target coldstart.Target, keepWarm matrix.Cell, m matrix.Matrix) {
	t.Helper()
	to := r.Opts.Timeouts
	pod, err := r.Resolve(ctx, keepWarm.Client)
	if err != nil {
		r.Check(ctx, t, name+"/keep-warm-client", err)
		return
	}
	keep := func(ctx context.Context) error {
		_, err := probe.Run(ctx, r.Exec, pod, []probe.Request{keepWarm.Request}, to.RequestTimeout)
		return err
	}
	err = coldstart.WhileWarm(ctx, target, keep, to.ColdStartTimeout+to.ReadyTimeout, to.RoundInterval, 2*Settings(to).MaxRounds(),
		func(ctx context.Context) { r.Matrix(ctx, t, m) })
	if err != nil {
		err = fmt.Errorf("no warm verdict (an environment error, not a result): %w", err)
	}
	r.Check(ctx, t, name+"/stayed-warm", err)
}

// Restarts takes d away and puts it back (a model's pods deleted, a new
// revision rolled out) while m is probed every round, with path read
// beside each round (what carried the requests: a ServerlessService's
// mode). A refused cell's 2xx is a finding, not the verdict: each one is
// recorded with its round, time, path, curl's evidence and the length of
// the window it belongs to (name/<disruption>/<cell>-round-<n>); a run
// without any is recorded as one finding too, so that the report shows it
// ran. The verdict is that the refused cells are refused again once d is
// restored (within --max-time-to-consistency, and never served after
// that), and that the allowed cells answer again. takeLimit bounds the
// take (until it is away), restoreLimit the restoration. What d took is
// put back on failure and on Ctrl-C.
func (r *Run) Restarts(ctx context.Context, t *testing.T, name string, d disruption.Disruption, m matrix.Matrix,
	path func(context.Context) (string, error), takeLimit, restoreLimit time.Duration, note string) disruption.Result {
	t.Helper()
	to := r.Opts.Timeouts
	s := disruption.Settings{Settings: Settings(to), TakeLimit: takeLimit, RestoreLimit: restoreLimit, Path: path, ServedIsFinding: true,
		Guard: func(g string, restore func(context.Context) error) func() {
			return r.whileRemoved(name+"/"+g, restore)
		},
		Removing: r.removing}
	r.Logf("%s: %s while %d cells are probed every %s", name, d.What, len(m.Cells), to.RoundInterval)
	res := disruption.Run(ctx, d, m, r.Exec, r.Resolve, s)
	r.Logf("%s", res.Summary())
	id := name + "/" + d.Name
	windows := disruption.Windows(res)
	for _, w := range windows {
		for _, b := range w.Served {
			r.scope(ctx).Finding(reportapi.Finding{Name: fmt.Sprintf("%s/%s-round-%d", id, b.Cell, b.Round), Client: b.Client, Request: b.Request,
				Observed: fmt.Sprintf("%s in round %d (%s, %s after start; path: %s): SERVED while %s", b.Outcome, b.Round, b.Phase,
					b.At.Round(time.Millisecond), orUnknown(b.Path), d.What),
				Note: note, Evidence: ReportEvidence(b.Outcome.Evidence),
				Seconds: map[string]float64{"at": b.At.Seconds(), "window": w.Length().Seconds()}})
		}
	}
	if len(windows) == 0 && res.Err == nil && res.TakeErr == nil {
		r.scope(ctx).Finding(reportapi.Finding{Name: id + "/never-served", Observed: fmt.Sprintf("no refused cell answered 2xx in %d rounds while %s", res.Rounds, d.What),
			Note: note, Seconds: map[string]float64{"window": 0}})
	}
	switch {
	case res.RestoreErr != nil:
		t.Errorf("%s: restoring failed, put it back by hand: %s", id, r.redact.String(res.RestoreErr.Error()))
	case res.TakeErr != nil || res.Err != nil:
		t.Errorf("%s: the restart could not be observed as meant (environment, not a verdict on the mesh):\n%s", id, r.redact.String(res.Summary()))
	case !res.Passed():
		if env := len(res.EnvironmentErrors()); env > 0 {
			t.Errorf("%s: %d cell(s) not observed enough (environment errors, not a verdict):\n%s", id, env, r.redact.String(res.Summary()))
		} else {
			t.Errorf("%s: once restored, a refused cell was not refused again or an allowed cell did not answer within %s:\n%s", id,
				to.MaxTimeToConsistency, r.redact.String(res.Summary()))
		}
	}
	if res.TakeErr != nil || res.RestoreErr != nil || res.Err != nil {
		r.diagnose(id, fmt.Errorf("%s", res.Summary()))
	}
	return res
}

func orUnknown(s string) string {
	if s == "" {
		return "not read"
	}
	return s
}
