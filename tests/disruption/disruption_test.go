package disruption

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	"github.com/secure-inference/mesh-conformance/tests/probe/probetest"
)

// The scripted executor is probetest's; the answers this file uses:
type answer = probetest.Answer

var newScripted = probetest.New

var (
	ok200 = answer{Exit: 0, Code: 200, Body: `{"ready":true}`}
	rbac  = answer{Exit: 0, Code: 403, Body: "RBAC: access denied"}
	reset = answer{Exit: 56, Code: 0, Body: ""}
)

var (
	inMesh  = matrix.Client{Name: "user1", Namespace: "user1", Selector: "app=client", Container: "client"}
	outside = matrix.Client{Name: "default", Namespace: "default", Selector: "app=client", Container: "client"}
)

func resolveByName(_ context.Context, c matrix.Client) (probe.Pod, error) {
	return probe.Pod{Namespace: c.Namespace, Name: c.Name, Container: c.Container}, nil
}

// twoCells: one refused cell (default -> model) and one allowed (user1 ->
// model).
func twoCells() matrix.Matrix {
	return matrix.Matrix{Name: "fail-closed", Cells: []matrix.Cell{
		{Name: "default-to-model", Client: outside, Request: probe.Request{URL: "http://model/"}, Expect: matrix.Expect(matrix.DeniedHTTP403)},
		{Name: "user1-to-model", Client: inMesh, Request: probe.Request{URL: "http://model/"}, Expect: matrix.Expect(matrix.Allowed)},
	}}
}

func fast() Settings {
	return Settings{Settings: matrix.Settings{RequestTimeout: time.Second, MaxTimeToConsistency: 2 * time.Second,
		RequiredConsecutiveSuccesses: 2, RoundInterval: time.Millisecond}, HoldRounds: 2, TakeLimit: 5 * time.Second, RestoreLimit: 5 * time.Second}
}

// recorder is a disruption that counts its calls.
type recorder struct {
	mu                    sync.Mutex
	takes, gones, restore int
	restoreCtxErr         error
	takeErr, goneErr      error
	gone                  func(ctx context.Context) error
}

func (r *recorder) disruption() Disruption {
	return Disruption{Name: "istiod", What: "scaled to zero",
		Take: func(context.Context) error { r.mu.Lock(); defer r.mu.Unlock(); r.takes++; return r.takeErr },
		Gone: func(ctx context.Context) error {
			r.mu.Lock()
			r.gones++
			g := r.gone
			r.mu.Unlock()
			if g != nil {
				return g(ctx)
			}
			return r.goneErr
		},
		Restore: func(ctx context.Context) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.restore++
			r.restoreCtxErr = ctx.Err()
			return ctx.Err()
		},
	}
}

func cellOf(t *testing.T, res Result, name string) CellResult {
	t.Helper()
	for _, c := range res.Cells {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no cell %s", name)
	return CellResult{}
}

func TestFailsClosedAndAllowedCellRecovers(t *testing.T) {
	// The allowed cell is reset for three rounds from the second on (the
	// control plane is gone), then answers again.
	ex := newScripted(map[string][]answer{
		"default http://model/": {rbac},
		"user1 http://model/":   {ok200, reset, reset, reset, ok200},
	})
	rec := &recorder{}
	res := Run(context.Background(), rec.disruption(), twoCells(), ex, resolveByName, fast())
	require.NoError(t, res.Err)
	assert.True(t, res.Passed(), res.Summary())
	assert.False(t, res.FailedOpen())
	assert.True(t, res.Restored)
	assert.Equal(t, 1, rec.takes)
	assert.Equal(t, 1, rec.restore)
	assert.Equal(t, 1, res.RoundsByPhase[Before])
	assert.Equal(t, 2, res.RoundsByPhase[Taken])
	assert.GreaterOrEqual(t, res.RoundsByPhase[After], 2)

	allowed := cellOf(t, res, "user1-to-model")
	assert.True(t, allowed.Down)
	assert.Equal(t, 3, allowed.DownRounds)
	assert.True(t, allowed.Recovered)
	assert.Greater(t, allowed.Downtime, time.Duration(0))
	assert.GreaterOrEqual(t, allowed.RecoveredAfter, time.Duration(0))
	assert.LessOrEqual(t, allowed.RecoveredAfter, fast().MaxTimeToConsistency)
	assert.Contains(t, res.Summary(), "user1-to-model (allowed): down 3 round(s)")
}

func TestOne2xxOnADenyCellFailsWithRoundCellAndEvidence(t *testing.T) {
	// Third round (round 2, while istiod is away): the refused cell answers.
	ex := newScripted(map[string][]answer{
		"default http://model/": {rbac, rbac, {Exit: 0, Code: 200, Body: `{"name":"model","ready":true}`}, rbac},
		"user1 http://model/":   {ok200},
	})
	rec := &recorder{}
	res := Run(context.Background(), rec.disruption(), twoCells(), ex, resolveByName, fast())
	require.NoError(t, res.Err)
	assert.False(t, res.Passed())
	assert.True(t, res.FailedOpen())
	require.Len(t, res.Breaches, 1)
	b := res.Breaches[0]
	assert.Equal(t, 2, b.Round)
	assert.Equal(t, "default-to-model", b.Cell)
	assert.Equal(t, 200, b.Outcome.HTTPCode)
	assert.Contains(t, b.Outcome.Body, `"ready":true`)
	assert.NotEqual(t, Before, b.Phase)
	assert.Contains(t, res.Summary(), "FAILED OPEN: round 2")
	assert.Contains(t, cellOf(t, res, "default-to-model").Reason, "failed open")
	// Restoration ran even though the verdict is a failure.
	assert.Equal(t, 1, rec.restore)
	assert.True(t, res.Restored)
}

func TestRefusalOtherThanExpectedIsStillClosed(t *testing.T) {
	// With istiod away the refusal may change form (a reset instead of a
	// 403): no 2xx, so the mesh failed closed.
	ex := newScripted(map[string][]answer{
		"default http://model/": {rbac, reset, reset, reset, rbac},
		"user1 http://model/":   {ok200},
	})
	res := Run(context.Background(), (&recorder{}).disruption(), twoCells(), ex, resolveByName, fast())
	assert.True(t, res.Passed(), res.Summary())
}

func TestAllowedCellThatNeverRecoversFails(t *testing.T) {
	ex := newScripted(map[string][]answer{
		"default http://model/": {rbac},
		"user1 http://model/":   {ok200, reset},
	})
	s := fast()
	s.MaxTimeToConsistency = 100 * time.Millisecond
	rec := &recorder{}
	res := Run(context.Background(), rec.disruption(), twoCells(), ex, resolveByName, s)
	assert.False(t, res.Passed())
	assert.False(t, res.FailedOpen())
	c := cellOf(t, res, "user1-to-model")
	assert.False(t, c.Recovered)
	assert.Contains(t, c.Reason, "after restoration")
	assert.Equal(t, 1, rec.restore)
}

func TestRestorationRunsWhenContextIsCancelled(t *testing.T) {
	ex := newScripted(map[string][]answer{
		"default http://model/": {rbac},
		"user1 http://model/":   {ok200},
	})
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{gone: func(gctx context.Context) error {
		cancel() // Ctrl-C while waiting for istiod to be gone
		<-gctx.Done()
		return gctx.Err()
	}}
	res := Run(ctx, rec.disruption(), twoCells(), ex, resolveByName, fast())
	require.Error(t, res.Err)
	assert.False(t, res.Passed())
	assert.Equal(t, 1, rec.takes)
	// Restored with a context of its own, not the cancelled one.
	assert.GreaterOrEqual(t, rec.restore, 1)
	assert.NoError(t, rec.restoreCtxErr)
	assert.True(t, res.Restored)
	assert.NoError(t, res.RestoreErr)
}

func TestRestorationRunsWhenTakeFails(t *testing.T) {
	ex := newScripted(map[string][]answer{
		"default http://model/": {rbac},
		"user1 http://model/":   {ok200},
	})
	rec := &recorder{goneErr: errors.New("istiod pods still there")}
	res := Run(context.Background(), rec.disruption(), twoCells(), ex, resolveByName, fast())
	assert.ErrorContains(t, res.TakeErr, "still there")
	assert.False(t, res.Passed())
	assert.False(t, res.FailedOpen())
	assert.Equal(t, 1, rec.restore)
	assert.True(t, res.Restored)
}

func TestGuardIsRegisteredUntilRestoredAndStoppingTakesNothing(t *testing.T) {
	ex := newScripted(map[string][]answer{
		"default http://model/": {rbac},
		"user1 http://model/":   {ok200},
	})
	var registered []string
	open := 0
	s := fast()
	s.Guard = func(name string, restore func(context.Context) error) func() {
		registered = append(registered, name)
		open++
		return func() { open-- }
	}
	rec := &recorder{}
	res := Run(context.Background(), rec.disruption(), twoCells(), ex, resolveByName, s)
	assert.True(t, res.Passed(), res.Summary())
	assert.Equal(t, []string{"istiod"}, registered)
	assert.Equal(t, 0, open, "unregistered once restored")

	// The run is stopping: the harness refuses the Take; nothing to put back.
	s.Removing = func(func() error) error { return errors.New("the run is stopping") }
	rec = &recorder{}
	res = Run(context.Background(), rec.disruption(), twoCells(), ex, resolveByName, s)
	assert.ErrorContains(t, res.TakeErr, "stopping")
	assert.Equal(t, 0, rec.takes)
	assert.Equal(t, 0, rec.restore)
}

func TestExecErrorIsAnEnvironmentErrorNotAVerdict(t *testing.T) {
	// The refused cell's client cannot be exec'd into after the first
	// round: nothing is observed while istiod is away.
	ex := newScripted(map[string][]answer{
		"default http://model/": {rbac},
		"user1 http://model/":   {ok200},
	})
	ex.Fail = func(pod string, n int) error {
		if pod == "default" && n > 0 {
			return errors.New("error dialing backend: EOF")
		}
		return nil
	}
	rec := &recorder{}
	res := Run(context.Background(), rec.disruption(), twoCells(), ex, resolveByName, fast())
	assert.False(t, res.Passed())
	assert.False(t, res.FailedOpen(), "an exec error is no 2xx")
	c := cellOf(t, res, "default-to-model")
	assert.True(t, c.EnvironmentError)
	assert.Greater(t, c.EnvErrors, 0)
	assert.Contains(t, c.Reason, "not a verdict")
	require.Len(t, res.EnvironmentErrors(), 1)
	assert.Equal(t, 1, rec.restore)
}

func TestRoundsAreBounded(t *testing.T) {
	// Gone never returns within the run's bound of rounds: the loop ends,
	// says so, and restores.
	ex := newScripted(map[string][]answer{
		"default http://model/": {rbac},
		"user1 http://model/":   {ok200},
	})
	rec := &recorder{gone: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}
	s := fast()
	s.TakeLimit, s.RestoreLimit, s.MaxTimeToConsistency = 20*time.Millisecond, 20*time.Millisecond, 20*time.Millisecond
	s.RoundInterval = 10 * time.Millisecond
	res := Run(context.Background(), rec.disruption(), twoCells(), ex, resolveByName, s)
	assert.LessOrEqual(t, res.Rounds, s.withDefaults().maxRounds())
	assert.False(t, res.Passed())
	assert.Equal(t, 1, rec.restore)
}
