package harness

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/tests/coldstart"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// ColdStartSpec is what a cold-start feature probes: a target that scales
// to zero, the clients that send it one request each while it is cold,
// and the warm verdict.
type ColdStartSpec struct {
	// Target is the scale-to-zero target, from the cluster's clients.
	Target func(e *Env) coldstart.Target
	// Clients send the cold requests, each Repeats times (--cold-start-
	// repeats), after the target scaled back to zero.
	Clients []matrix.Client
	// Request is the cold request.
	Request probe.Request
	// Note is how a cold request is reported: an observation, not a
	// verdict; from the options, whose setup says what a 2xx means.
	Note func(o options.Options) string
	// Warm is the verdict once the target is warm again; its first cell,
	// an allowed one, keeps it warm (WarmMatrix).
	Warm func(o options.Options) matrix.Matrix
	// ServedFails tells whether, under the options' setup, a cold
	// request's 2xx fails its sequence's check (a setup that closes the
	// path the Note explains: kservemesh's hardened profile), the finding
	// kept as its evidence. Nil or false: the cold requests are findings.
	ServedFails func(o options.Options) bool
}

// ColdStart makes f a cold-start feature (kind matrix): the cold requests
// are findings, not cells (ColdSequences, checks <name>/cold/...), and
// the warm matrix is the verdict (WarmMatrix, checks <name>/warm/...).
func ColdStart(f Feature, s ColdStartSpec) Feature {
	f.Kind = KindMatrix
	f.Matrices = func(_ context.Context, o options.Options, _ Facts) ([]matrix.Matrix, error) {
		return []matrix.Matrix{s.Warm(o)}, nil
	}
	f.body = func(r *Run, b *features.FeatureBuilder) *features.FeatureBuilder {
		return b.Assess("cold-requests-recorded", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			r.coldSequences(ctx, t, f.Name+"/cold", s.Target(r.env()), s.Clients, s.Request, r.Opts.ColdStartRepeats, s.Note(r.Opts),
				s.ServedFails != nil && s.ServedFails(r.Opts))
			return ctx
		}).
			Assess("refused-once-warm", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
				warm := s.Warm(r.Opts)
				r.warmMatrix(ctx, t, f.Name+"/warm", s.Target(r.env()), warm.Cells[0], warm)
				return ctx
			})
	}
	return f
}

// coldSequences runs cold sequences against a scale-to-zero target from
// each client, repeats times, each after the target scaled back to zero.
// Each cold request is recorded as a finding (what came back, curl's
// evidence, time to first byte, time to ready); a sequence that could not
// be observed (the target never went cold, the exec failed) fails the
// check named name/<client>-<n>, and so, with servedFails (a setup that
// must refuse it while cold too), does a cold request that was served
// (coldVerdict).
func (r *Run) coldSequences(ctx context.Context, t *testing.T, name string, target coldstart.Target, clients []matrix.Client,
	req probe.Request, repeats int, note string, servedFails bool) {
	t.Helper()
	to := r.Opts.Timeouts
	s := coldstart.Settings{ColdWait: to.ReadyTimeout, WarmWait: to.ColdStartTimeout + to.ReadyTimeout, RequestTimeout: to.ColdStartTimeout, Poll: 2 * time.Second}
	for i := 1; i <= repeats; i++ {
		for _, c := range clients {
			pod, err := r.Resolve(ctx, c)
			var sample coldstart.Sample
			if err == nil {
				sample, err = coldstart.Probe(ctx, r.Exec, pod, req, target, s)
			}
			check := fmt.Sprintf("%s/%s-%d", name, c.Name, i)
			if err != nil {
				r.Check(ctx, t, check, err)
				continue
			}
			if servedFails {
				err = coldVerdict(c, req, sample)
			}
			r.Check(ctx, t, check, err)
			served := "refused while cold"
			if sample.Served() {
				served = "SERVED while cold: isolation did not hold during the cold start"
			}
			r.Logf("%s: %s -> %s cold (%s): %s, first byte after %s, ready after %s", name, c.Name, req, sample.Cold, sample.Outcome,
				sample.TimeToFirstByte.Round(time.Millisecond), sample.TimeToReady.Round(time.Millisecond))
			r.scope(ctx).Finding(reportapi.Finding{Name: fmt.Sprintf("%s/%s-%d", name, c.Name, i), Client: c.Name, Request: req.String(),
				Observed: sample.Outcome.String() + " (" + served + ")", Note: note, Evidence: ReportEvidence(sample.Outcome.Evidence),
				Seconds: map[string]float64{"timeToFirstByte": sample.TimeToFirstByte.Seconds(), "timeToReady": sample.TimeToReady.Seconds()}})
		}
	}
}

// coldVerdict is a cold request's verdict under a setup that refuses it
// while the target is cold too: a 2xx fails it.
func coldVerdict(c matrix.Client, req probe.Request, s coldstart.Sample) error {
	if !s.Served() {
		return nil
	}
	return fmt.Errorf("%s -> %s was SERVED while cold (%s): %s, which this setup must refuse then too", c.Name, req, s.Cold, s.Outcome)
}

// warmMatrix is the warm verdict on a scale-to-zero target: m runs once the
// target is warm (a ready pod, the activator off the path), while keepWarm,
// an allowed cell, is sent every round so that the autoscaler does not
// scale the target to zero mid-verdict (m's cells stop being probed as they
// pass, and a refused request never reaches queue-proxy). A look that
// finds the target not warm while m runs voids the verdict, as an
// environment error that names what was seen (coldstart.WhileWarm).
func (r *Run) warmMatrix(ctx context.Context, t *testing.T, name string, target coldstart.Target, keepWarm matrix.Cell, m matrix.Matrix) {
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
