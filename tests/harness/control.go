package harness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/mesh"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/report"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// Control makes f a control: it proves that a refusal comes from the given
// Istio policies (AuthorizationPolicy, PeerAuthentication, removed and
// restored through Istio's typed client): with them removed the without
// matrix must pass (the refused request now answers), and with them
// restored the restored matrix must pass again. A suite that passes with
// its policy absent would be worse than none. Each of --control-repeats
// cycles times both changes, from the API write to the round that began
// the passing streak (time to open, time to revoke); --max-time-to-revoke
// makes the slowest revoke a verdict. What was removed is put back on
// failure and on Ctrl-C. The policies' fixture files are the feature's
// manifests.
//
// The policies are named, not decoded, here: a suite declares its
// controls as package-level values, and a fixture decoded there would
// panic every binary importing the suite (the API server tier's, the
// lab's) before any test ran. They are decoded when the feature is built
// or planned: a fixture that does not decode fails the control's check
// <name>/fixtures, naming the file, the object and the field, and
// --dry-run prints the same error under the feature.
func Control(f Feature, policies []PolicyFixture, without, restored func(o options.Options) matrix.Matrix) Feature {
	f.Kind = KindControl
	f.Manifests = nil
	for _, p := range policies {
		if !slices.Contains(f.Manifests, p.File) {
			f.Manifests = append(f.Manifests, p.File)
		}
	}
	f.verify = &staticCheck{name: "fixtures", run: func() error {
		_, err := decodePolicies(policies)
		return err
	}}
	f.Matrices = func(_ context.Context, o options.Options, _ Facts) ([]matrix.Matrix, error) {
		return []matrix.Matrix{without(o), restored(o)}, nil
	}
	f.body = func(r *Run, b *features.FeatureBuilder) *features.FeatureBuilder {
		decoded, _ := decodePolicies(policies) // verify decoded them, or the body does not run
		return r.control(b, f.Name, decoded, without(r.Opts), restored(r.Opts))
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

// control runs the cycles.
func (r *Run) control(b *features.FeatureBuilder, name string, policies []mesh.Policy, without, restored matrix.Matrix) *features.FeatureBuilder {
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
