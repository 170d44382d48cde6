package harness

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/tests/disruption"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// RestartSpec is what a restart feature takes away and probes.
type RestartSpec struct {
	// Disruptions are taken away and put back in turn (a model's pods
	// deleted, a new revision rolled out), from the cluster's clients.
	Disruptions func(e *Env) []disruption.Disruption
	// Cells are probed every round: refused cells, and an allowed one
	// whose downtime shows the target really was away.
	Cells func(o options.Options) matrix.Matrix
	// Path reads what carried the requests, beside each round.
	Path func(ctx context.Context, e *Env) (string, error)
	// TakeLimit bounds each take (until it is away), RestoreLimit its
	// restoration.
	TakeLimit, RestoreLimit func(o options.Options) time.Duration
	// Note says what a refused cell's 2xx means, under the options' setup
	// (a profile may close the path the note explains).
	Note func(o options.Options) string
	// ServedFails tells whether, under the options' setup, a refused
	// cell's 2xx while the target is away fails the feature (the check
	// <name>/<disruption>/refused-while-away): a setup that closes the
	// path the Note explains (kservemesh's hardened profile). Nil or
	// false: each 2xx is a finding, and the verdict is the refusal once
	// restored (which holds either way).
	ServedFails func(o options.Options) bool
}

// Restarts makes f a restart feature (kind disruption): each disruption is
// taken away and put back while the cells are probed (restarts); what is
// taken is put back by the teardown too, checked as
// <name>/<disruption>/restored.
func Restarts(f Feature, s RestartSpec) Feature {
	f.Kind = KindDisruption
	f.Matrices = func(_ context.Context, o options.Options, _ Facts) ([]matrix.Matrix, error) {
		return []matrix.Matrix{s.Cells(o)}, nil
	}
	f.body = func(r *Run, b *features.FeatureBuilder) *features.FeatureBuilder {
		var ds []disruption.Disruption // built once the cluster's clients exist
		return b.Assess("served-while-taken-away-then-refused", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			e := r.env()
			ds = s.Disruptions(e)
			path := func(ctx context.Context) (string, error) { return s.Path(ctx, e) }
			for _, d := range ds {
				r.restarts(ctx, t, f.Name, d, s.Cells(r.Opts), path, s.TakeLimit(r.Opts), s.RestoreLimit(r.Opts), s.Note(r.Opts),
					s.ServedFails != nil && s.ServedFails(r.Opts))
			}
			return ctx
		}).Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			r.restoreAll(ctx, t, f.Name, ds, s.RestoreLimit(r.Opts))
			return ctx
		})
	}
	return f
}

// restarts takes d away and puts it back (a model's pods deleted, a new
// revision rolled out) while m is probed every round, with path read
// beside each round (what carried the requests: a ServerlessService's
// mode). A refused cell's 2xx is a finding, not the verdict: each one is
// recorded with its round, time, path, curl's evidence and the length of
// the window it belongs to (name/<disruption>/<cell>-round-<n>); a run
// without any is recorded as one finding too, so that the report shows it
// ran. The verdict is that the refused cells are refused again once d is
// restored (within --max-time-to-consistency, and never served after
// that), and that the allowed cells answer again; with servedFails (a
// setup that must refuse them while d is away too), also that no refused
// cell answered 2xx meanwhile (the check <name>/<disruption>/
// refused-while-away, servedWhileAway), the findings kept as its
// evidence. takeLimit bounds the take (until it is away), restoreLimit
// the restoration. What d took is put back on failure and on Ctrl-C.
func (r *Run) restarts(ctx context.Context, t *testing.T, name string, d disruption.Disruption, m matrix.Matrix,
	path func(context.Context) (string, error), takeLimit, restoreLimit time.Duration, note string, servedFails bool) disruption.Result {
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
	if servedFails && res.TakeErr == nil && res.Err == nil {
		r.Check(ctx, t, id+"/refused-while-away", servedWhileAway(res))
	}
	r.judgeDisruption(t, id, "restart", res, fmt.Sprintf("once restored, a refused cell was not refused again or an allowed cell did not answer within %s", to.MaxTimeToConsistency))
	return res
}

// servedWhileAway is the verdict of a setup that refuses the refused
// cells while the target is away too: every 2xx of one (each a Breach)
// fails it.
func servedWhileAway(res disruption.Result) error {
	if len(res.Breaches) == 0 {
		return nil
	}
	var served []string
	for _, b := range res.Breaches {
		served = append(served, b.String())
	}
	return fmt.Errorf("%d refused request(s) SERVED while %s, which this setup must refuse then too:\n  %s",
		len(res.Breaches), res.What, strings.Join(served, "\n  "))
}

func orUnknown(s string) string {
	if s == "" {
		return "not read"
	}
	return s
}
