package coldstart

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// script is a Target whose states follow a list (the last repeats).
type script struct {
	mu     sync.Mutex
	states []State
	err    error
	calls  int
}

func (s *script) State(context.Context) (State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.calls
	s.calls++
	if i >= len(s.states) {
		i = len(s.states) - 1
	}
	return s.states[i], s.err
}

var (
	warm       = State{ReadyPods: 1, Mode: ModeServe}
	cold       = State{ReadyPods: 0, Mode: ModeProxy}
	drainingUp = State{ReadyPods: 1, Mode: ModeProxy} // burst capacity or still switching
)

func TestStates(t *testing.T) {
	assert.True(t, cold.Cold())
	assert.False(t, drainingUp.Cold(), "a ready pod behind the activator is not cold")
	assert.False(t, State{ReadyPods: 0, Mode: ModeServe}.Cold(), "no pod but no activator: not the cold path")
}

func TestWaitFollowsTheStates(t *testing.T) {
	ctx := context.Background()
	tgt := &script{states: []State{warm, drainingUp, cold}}
	_, st, err := Wait(ctx, tgt, "cold", State.Cold, time.Second, time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, cold, st)
	assert.Equal(t, 3, tgt.calls)

	_, _, err = Wait(ctx, &script{states: []State{warm}}, "scaled to zero", State.Cold, 20*time.Millisecond, time.Millisecond)
	assert.ErrorContains(t, err, "not scaled to zero within 20ms: last seen 1 ready pod(s), Serve mode")
	_, _, err = Wait(ctx, &script{states: []State{{}}, err: errors.New("the API server is away")}, "cold", State.Cold, 20*time.Millisecond, time.Millisecond)
	assert.ErrorContains(t, err, "the API server is away")
}

// A cold request answered after a delay (as a model starting): the sample
// has what came back, the time to first byte, and the time to ready.
func TestProbeRecordsTheColdRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(300 * time.Millisecond)
		_, _ = w.Write([]byte(`{"name":"sklearn-iris-cold","ready":true}`))
	}))
	defer srv.Close()
	tgt := &script{states: []State{warm, cold, cold, drainingUp, warm}}
	s := Settings{ColdWait: time.Second, WarmWait: 5 * time.Second, RequestTimeout: 10 * time.Second, Poll: time.Millisecond}
	sample, err := Probe(context.Background(), probe.LocalExecutor{}, probe.Pod{}, probe.Request{URL: srv.URL}, tgt, s)
	require.NoError(t, err)
	assert.True(t, sample.Served())
	assert.Equal(t, cold, sample.Cold)
	assert.GreaterOrEqual(t, sample.TimeToFirstByte, 300*time.Millisecond)
	assert.GreaterOrEqual(t, sample.TimeToReady, sample.TimeToFirstByte)

	refused := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "RBAC: access denied", http.StatusForbidden)
	}))
	defer refused.Close()
	sample, err = Probe(context.Background(), probe.LocalExecutor{}, probe.Pod{}, probe.Request{URL: refused.URL}, &script{states: []State{cold, warm}}, s)
	require.NoError(t, err)
	assert.False(t, sample.Served(), "a 403 while cold is recorded as it came")
	assert.Equal(t, 403, sample.Outcome.HTTPCode)

	// Never cold: no request is sent, and the error says why.
	_, err = Probe(context.Background(), probe.LocalExecutor{}, probe.Pod{}, probe.Request{URL: srv.URL}, &script{states: []State{warm}},
		Settings{ColdWait: 20 * time.Millisecond, Poll: time.Millisecond, RequestTimeout: time.Second})
	assert.ErrorContains(t, err, "not scaled to zero with the activator on the path")
}

// The warm verdict runs only once the target is warm, the target is kept
// warm by a request every look, and a look that finds it cold voids it.
func TestWhileWarmKeepsTheTargetWarmAndVoidsAVerdictThatOutlivesIt(t *testing.T) {
	ctx := context.Background()
	var keeps int
	var mu sync.Mutex
	keep := func(context.Context) error { mu.Lock(); keeps++; mu.Unlock(); return nil }

	tgt := &script{states: []State{drainingUp, warm}}
	ran := false
	err := WhileWarm(ctx, tgt, keep, time.Second, 5*time.Millisecond, 100, func(context.Context) { ran = true; time.Sleep(40 * time.Millisecond) })
	require.NoError(t, err)
	assert.True(t, ran)
	mu.Lock()
	assert.Greater(t, keeps, 2, "an allowed request every look keeps the autoscaler's window busy")
	mu.Unlock()

	tgt = &script{states: []State{warm, warm, cold}}
	err = WhileWarm(ctx, tgt, keep, time.Second, 5*time.Millisecond, 100, func(context.Context) { time.Sleep(60 * time.Millisecond) })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "0 ready pod(s), Proxy mode")
	assert.Contains(t, err.Error(), "void")

	tgt = &script{states: []State{cold}}
	err = WhileWarm(ctx, tgt, keep, 20*time.Millisecond, 5*time.Millisecond, 100, func(context.Context) { t.Fatal("no verdict on a cold target") })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not warm")
}
