package harness

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/tests/disruption"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// FailClosed makes f a fail-closed feature (extended, kind disruption):
// each of disruptions is taken away and put back in turn while m's cells
// are probed every round; a refused cell answering 2xx in any round fails
// it, and so does an allowed cell not answering again within
// --max-time-to-consistency after restoration. Everything taken away is
// put back, on failure and on Ctrl-C too (the run's restorers).
func FailClosed(f Feature, disruptions func(e *Env) []disruption.Disruption, m func(o options.Options) matrix.Matrix) Feature {
	f.Kind, f.Support = KindDisruption, Extended
	f.Matrices = func(_ context.Context, o options.Options, _ Facts) ([]matrix.Matrix, error) {
		return []matrix.Matrix{m(o)}, nil
	}
	f.body = func(r *Run, b *features.FeatureBuilder) *features.FeatureBuilder {
		var ds []disruption.Disruption // built once the cluster's clients exist
		return b.Assess("refused-cells-never-answer-while-the-mesh-is-disrupted", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ds = disruptions(r.env())
			for _, d := range ds {
				r.disrupt(ctx, t, f.Name, d, m(r.Opts))
			}
			return ctx
		}).Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			r.restoreAll(ctx, t, f.Name, ds, r.Opts.Timeouts.ReadyTimeout)
			return ctx
		})
	}
	// Each disruption: taken away and gone, held for as many rounds as
	// must match in a row, put back, settled, and put back again by the
	// teardown's check (the constructors only keep their arguments, so
	// the list is built before the cluster exists). A Limit given is kept.
	if f.Limit == nil {
		f.Limit = func(o options.Options) time.Duration {
			t := o.Timeouts
			hold := time.Duration(o.Timeouts.RequiredConsecutiveSuccesses+1) * t.RoundInterval
			return time.Duration(len(disruptions(&Env{Opts: o, Mode: o.Mode}))) * (3*t.ReadyTimeout + hold + Settings(t).Longest())
		}
	}
	return f
}

// restoreAll puts back every disruption, whatever happened before
// (Restore is idempotent), each within limit, checked as
// <name>/<disruption>/restored.
func (r *Run) restoreAll(ctx context.Context, t *testing.T, name string, ds []disruption.Disruption, limit time.Duration) {
	t.Helper()
	for _, d := range ds {
		rctx, cancel := context.WithTimeout(ctx, limit)
		r.Check(ctx, t, name+"/"+d.Name+"/restored", d.Restore(rctx))
		cancel()
	}
}

// disrupt runs one disruption and records its account.
func (r *Run) disrupt(ctx context.Context, t *testing.T, feature string, d disruption.Disruption, m matrix.Matrix) {
	t.Helper()
	to := r.Opts.Timeouts
	s := disruption.Settings{Settings: Settings(to), TakeLimit: to.ReadyTimeout, RestoreLimit: to.ReadyTimeout,
		Guard: func(name string, restore func(context.Context) error) func() {
			return r.whileRemoved(feature+"/"+name, restore)
		},
		Removing: r.removing}
	r.Logf("%s: taking away %s while %d cells are probed every %s", feature, d.What, len(m.Cells), to.RoundInterval)
	res := disruption.Run(ctx, d, m, r.Exec, r.Resolve, s)
	r.Logf("%s", res.Summary())
	r.scope(ctx).Disruption(ReportDisruption(res, s))
	name := feature + "/" + d.Name
	if res.FailedOpen() {
		t.Errorf("%s: the mesh FAILED OPEN:\n%s", name, r.redact.String(res.Summary()))
	}
	r.judgeDisruption(t, name, "disruption", res, fmt.Sprintf("an allowed cell did not recover within %s after restoration", to.MaxTimeToConsistency))
}

// judgeDisruption fails t with what a disruption's result says besides a
// cell served while the mesh was disrupted (a fail-closed verdict, a
// restart's finding): restoring failed, the disruption could not be
// observed as meant, cells not observed enough, or notRecovered; and
// dumps diagnostics when the disruption itself went wrong. what names the
// disruption's kind in the message.
func (r *Run) judgeDisruption(t *testing.T, name, what string, res disruption.Result, notRecovered string) {
	t.Helper()
	switch {
	case res.RestoreErr != nil:
		t.Errorf("%s: restoring failed, put it back by hand: %s", name, r.redact.String(res.RestoreErr.Error()))
	case res.TakeErr != nil || res.Err != nil:
		t.Errorf("%s: the %s could not be observed as meant (environment, not a verdict on the mesh):\n%s", name, what, r.redact.String(res.Summary()))
	case !res.Passed():
		if env := len(res.EnvironmentErrors()); env > 0 {
			t.Errorf("%s: %d cell(s) not observed enough (environment errors, not a verdict):\n%s", name, env, r.redact.String(res.Summary()))
		} else if !res.FailedOpen() {
			t.Errorf("%s: %s:\n%s", name, notRecovered, r.redact.String(res.Summary()))
		}
	}
	if res.TakeErr != nil || res.RestoreErr != nil || res.Err != nil {
		r.diagnose(name, fmt.Errorf("%s", res.Summary()))
	}
}

// ReportDisruption puts a disruption's account in the report's terms.
func ReportDisruption(res disruption.Result, s disruption.Settings) reportapi.Disruption {
	out := reportapi.Disruption{Name: res.Disruption, What: res.What, Matrix: res.Matrix, Rounds: res.Rounds, RoundsByPhase: res.RoundsByPhase,
		ResolutionSeconds: s.RoundInterval.Seconds(), RecoveryLimitSeconds: s.MaxTimeToConsistency.Seconds(),
		TakenAtSeconds: res.TakenAt.Seconds(), GoneAtSeconds: res.GoneAt.Seconds(), RestoredAtSeconds: res.RestoredAt.Seconds(),
		Restored: res.Restored, Result: reportapi.Success}
	if !res.Passed() {
		out.Result = reportapi.Failure
	}
	for _, e := range []struct {
		dst *string
		err error
	}{{&out.TakeError, res.TakeErr}, {&out.RestoreError, res.RestoreErr}, {&out.Error, res.Err}} {
		if e.err != nil {
			*e.dst = e.err.Error()
		}
	}
	for _, b := range res.Breaches {
		out.Breaches = append(out.Breaches, reportapi.Breach{Round: b.Round, Phase: b.Phase, AtSeconds: b.At.Seconds(), Cell: b.Cell, Client: b.Client,
			Request: b.Request, Observed: b.Outcome.String(), Evidence: ReportEvidence(b.Outcome.Evidence)})
	}
	for _, c := range res.Cells {
		if c.EnvironmentError {
			out.EnvironmentErrors = append(out.EnvironmentErrors, c.Name+": "+c.Reason)
		}
		if c.Deny {
			continue
		}
		a := reportapi.DisruptedAllowed{Cell: c.Name, Down: c.Down, DownRounds: c.DownRounds, Recovered: c.Recovered, Reason: c.Reason}
		if c.Down {
			a.DownAt, a.DowntimeSeconds = c.DownAt.Seconds(), c.Downtime.Seconds()
		}
		if c.Recovered {
			a.RecoveredAfterSeconds = c.RecoveredAfter.Seconds()
		}
		out.Allowed = append(out.Allowed, a)
	}
	return out
}
