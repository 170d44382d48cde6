// Package coldstart probes a model that scales to zero. While its
// predictor has no ready pod, Knative puts the activator on the path (the
// ServerlessService in Proxy mode), and the activator forwards with its own
// identity: a caller the AuthorizationPolicy refuses once the model is warm
// may be served while it wakes. A cold sequence waits until the target is
// cold, sends one request with a timeout long enough for a cold start,
// records exactly what came back and how long it took, then waits until
// the target has a ready pod again. What the target is (a real InferenceService, or
// a lab stand-in) is behind Target.
package coldstart

import (
	"context"
	"fmt"
	"time"

	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// ServerlessService modes (networking.internal.knative.dev/v1alpha1
// spec.mode): Proxy routes through the activator, Serve straight to pods.
const (
	ModeProxy = "Proxy"
	ModeServe = "Serve"
)

// State is how a scale-to-zero target looks now.
type State struct {
	ReadyPods int
	Mode      string
}

// Cold: no ready pod and the activator on the path.
func (s State) Cold() bool { return s.ReadyPods == 0 && s.Mode == ModeProxy }

// Ready: a pod is ready. Without further traffic Knative may put the
// activator back within one stable window, so the cold sequence times the
// first ready pod rather than wait for Serve mode it might miss.
func (s State) Ready() bool { return s.ReadyPods > 0 }

// Warm: a pod ready and the activator off the path (Serve mode), so that
// a refusal now is the refusal of the caller's own identity.
func (s State) Warm() bool { return s.ReadyPods > 0 && s.Mode == ModeServe }

func (s State) String() string { return fmt.Sprintf("%d ready pod(s), %s mode", s.ReadyPods, s.Mode) }

// Target reports the state of a scale-to-zero target.
type Target interface {
	State(ctx context.Context) (State, error)
}

// Settings bound a cold sequence.
type Settings struct {
	// ColdWait bounds the wait for the target to scale to zero; WarmWait
	// the wait for it to be ready again after the cold request.
	ColdWait, WarmWait time.Duration
	// RequestTimeout bounds the cold request: a model download and a
	// runtime start.
	RequestTimeout time.Duration
	// Poll is the time between two looks at the target.
	Poll time.Duration
}

// Wait polls the target until want holds or limit passes, and returns how
// long it took and the last state seen.
func Wait(ctx context.Context, t Target, what string, want func(State) bool, limit, poll time.Duration) (time.Duration, State, error) {
	start := time.Now()
	deadline := start.Add(limit)
	var last State
	var lastErr error
	for {
		st, err := t.State(ctx)
		if err == nil && want(st) {
			return time.Since(start), st, nil
		}
		last, lastErr = st, err
		if !time.Now().Before(deadline) {
			if lastErr != nil {
				return time.Since(start), last, fmt.Errorf("not %s within %s: %w", what, limit, lastErr)
			}
			return time.Since(start), last, fmt.Errorf("not %s within %s: last seen %s", what, limit, last)
		}
		select {
		case <-ctx.Done():
			return time.Since(start), last, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// Sample is one cold request and what followed.
type Sample struct {
	// Cold is the state the request was sent in.
	Cold    State
	Outcome probe.Outcome
	// TimeToFirstByte is curl's; TimeToReady runs from the request until
	// the target was warm.
	TimeToFirstByte, TimeToReady time.Duration
}

// Served tells whether the cold request got a 2xx.
func (s Sample) Served() bool {
	return s.Outcome.Kind == probe.KindHTTP && s.Outcome.HTTPCode >= 200 && s.Outcome.HTTPCode < 300
}

// Probe runs one cold sequence from pod: wait until cold, send req once,
// wait until a pod is ready. An error means the sequence could not be observed (the
// target never went cold or warm, the exec failed): no verdict.
func Probe(ctx context.Context, ex probe.Executor, pod probe.Pod, req probe.Request, t Target, s Settings) (Sample, error) {
	_, cold, err := Wait(ctx, t, "scaled to zero with the activator on the path", State.Cold, s.ColdWait, s.Poll)
	if err != nil {
		return Sample{}, err
	}
	req.Timeout = s.RequestTimeout
	start := time.Now()
	outs, err := probe.Run(ctx, ex, pod, []probe.Request{req}, s.RequestTimeout)
	if err != nil {
		return Sample{Cold: cold}, fmt.Errorf("the cold request from %s: %w", pod, err)
	}
	sample := Sample{Cold: cold, Outcome: outs[0], TimeToFirstByte: time.Duration(outs[0].TimeToFirstByte * float64(time.Second))}
	left := s.WarmWait - time.Since(start)
	if left < s.Poll {
		left = s.Poll
	}
	if _, _, err := Wait(ctx, t, "ready again", State.Ready, left, s.Poll); err != nil {
		return sample, err
	}
	sample.TimeToReady = time.Since(start)
	return sample, nil
}

// WhileWarm runs verdict on a target that must stay warm while it runs.
// The warm verdict's cells stop being probed as each one passes, and the
// traffic a sidecar refuses never reaches queue-proxy, so nothing would
// keep the autoscaler from scaling the target to zero within its window
// and putting the activator back on the path mid-verdict, where a refused
// caller is served for the document's own limitation, not for the mesh.
// So WhileWarm waits (up to warmWait) until the target is warm, then calls
// keep (one allowed request) and looks at the target every poll until
// verdict returns, at most maxLooks times. A look that finds the target
// not warm voids the verdict: the error names what was seen and when, and
// the caller reports it as an environment error, not a result.
func WhileWarm(ctx context.Context, t Target, keep func(context.Context) error, warmWait, poll time.Duration, maxLooks int, verdict func(context.Context)) error {
	if _, _, err := Wait(ctx, t, "warm (a ready pod, the activator off the path)", State.Warm, warmWait, poll); err != nil {
		return err
	}
	start := time.Now()
	done := make(chan struct{})
	lost := make(chan error, 1)
	watchCtx, cancel := context.WithCancel(ctx)
	go func() {
		defer close(done)
		for look := 0; look < maxLooks; look++ {
			select {
			case <-watchCtx.Done():
				return
			case <-time.After(poll):
			}
			keepErr := keep(watchCtx)
			st, err := t.State(watchCtx)
			if watchCtx.Err() != nil {
				return
			}
			if err == nil && !st.Warm() {
				lost <- fmt.Errorf("the target was %s %s into the warm verdict (keep-warm request: %v): the verdict is void, as a refused caller may then be served through the activator",
					st, time.Since(start).Round(time.Millisecond), orNone(keepErr))
				return
			}
		}
	}()
	verdict(ctx)
	cancel()
	<-done
	select {
	case err := <-lost:
		return err
	default:
		return nil
	}
}

func orNone(err error) any {
	if err == nil {
		return "answered"
	}
	return err
}
