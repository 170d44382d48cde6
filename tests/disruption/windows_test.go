package disruption

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// proxiedFor answers "Proxy" for the first n path reads (one a round),
// then "Serve": a revision that the activator fronts while its pod is
// gone.
func proxiedFor(n int) func(context.Context) (string, error) {
	var mu sync.Mutex
	reads := 0
	return func(context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		reads++
		if reads > 1 && reads <= n+1 {
			return "Proxy", nil
		}
		return "Serve", nil
	}
}

func finding() Settings {
	s := fast()
	s.ServedIsFinding = true
	return s
}

// A model restarting: the refused cell is served (2xx) in rounds 1 and 2
// and again in round 4, through the proxy, and refused from round 5 on.
// Each 2xx is recorded with its round, time, evidence and path; the two
// stretches are two windows with their lengths; the verdict is that the
// cell is refused again after restoration, so the run passes, and nothing
// is reported as failing open.
func TestServedWhileAwayIsAFindingWithWindowsAndPaths(t *testing.T) {
	ex := newScripted(map[string][]answer{
		"default http://model/": {rbac, ok200, ok200, rbac, ok200, rbac},
		"user1 http://model/":   {ok200},
	})
	s := finding()
	s.Path = proxiedFor(4)
	res := Run(context.Background(), (&recorder{}).disruption(), twoCells(), ex, resolveByName, s)
	require.NoError(t, res.Err)
	assert.True(t, res.Passed(), res.Summary())
	assert.False(t, res.FailedOpen(), "served under a known limitation is no breach of the mesh")
	require.Len(t, res.Breaches, 3, "every 2xx is kept: %s", res.Summary())
	for i, round := range []int{1, 2, 4} {
		b := res.Breaches[i]
		assert.Equal(t, round, b.Round)
		assert.Equal(t, "Proxy", b.Path, "the path read beside the round")
		assert.Equal(t, 200, b.Outcome.HTTPCode)
		assert.Contains(t, b.Outcome.Body, `"ready":true`, "curl's evidence")
	}

	ws := Windows(res)
	require.Len(t, ws, 2)
	first, second := ws[0], ws[1]
	assert.Equal(t, "default-to-model", first.Cell)
	assert.Len(t, first.Served, 2)
	assert.True(t, first.Closed, "round 3 was refused")
	assert.Equal(t, res.Cells[0].Observations[3].At-res.Cells[0].Observations[1].At, first.Length(),
		"from the first 2xx round's start to the start of the round refused again")
	assert.Positive(t, first.Length())
	assert.Len(t, second.Served, 1)
	assert.True(t, second.Closed)

	c := cellOf(t, res, "default-to-model")
	assert.True(t, c.Recovered, c.Reason)
	assert.True(t, c.Down)
	assert.Equal(t, 3, c.DownRounds)
	assert.Empty(t, c.Reason)
	sum := res.Summary()
	assert.Contains(t, sum, "SERVED: round 1")
	assert.Contains(t, sum, "[path: Proxy]")
	assert.Contains(t, sum, "window: default-to-model served")
	assert.NotContains(t, sum, "FAILED OPEN")
}

// Served for good: the refused cell never comes back, so its verdict fails
// (isolation did not come back), and its window is still open at the end.
func TestServedUntilTheEndFailsTheRefusal(t *testing.T) {
	ex := newScripted(map[string][]answer{
		"default http://model/": {rbac, ok200},
		"user1 http://model/":   {ok200},
	})
	res := Run(context.Background(), (&recorder{}).disruption(), twoCells(), ex, resolveByName, finding())
	require.NoError(t, res.Err)
	assert.False(t, res.Passed())
	assert.False(t, res.FailedOpen())
	assert.Contains(t, cellOf(t, res, "default-to-model").Reason, "isolation did not come back")
	ws := Windows(res)
	require.Len(t, ws, 1)
	assert.False(t, ws[0].Closed)
	assert.Equal(t, ws[0].Served[len(ws[0].Served)-1].At-ws[0].OpenedAt, ws[0].Length())
	assert.Contains(t, ws[0].String(), "still open when the run ended")
}

// A 2xx after the refused cell was refused again is a failure even under
// ServedIsFinding: the model was back, and isolation did not hold.
func TestServedAfterRefusedAgainFails(t *testing.T) {
	cell := matrix.Cell{Name: "default-to-model", Client: outside, Request: probe.Request{URL: "http://model/"}, Expect: matrix.Expect(matrix.DeniedHTTP403)}
	obs := func(round int, phase string, code int, matched bool) Observation {
		return Observation{Round: round, Phase: phase, At: time.Duration(round) * time.Second,
			Outcome: probe.Outcome{Kind: probe.KindHTTP, HTTPCode: code}, Matched: matched}
	}
	res := Result{Disruption: "restart", ServedIsFinding: true, RestoredAt: 3 * time.Second, Cells: []CellResult{{Cell: cell, Deny: true,
		Observations: []Observation{obs(0, Before, 403, true), obs(1, Taken, 200, false), obs(2, Restoring, 403, true),
			obs(3, After, 403, true), obs(4, After, 403, true), obs(5, After, 200, false)}}},
		Breaches: []Breach{{Round: 1, Phase: Taken, Cell: cell.Name}, {Round: 5, Phase: After, Cell: cell.Name}}}
	res.judge(fast())
	c := res.Cells[0]
	assert.False(t, c.Passed)
	assert.Contains(t, c.Reason, "answered 2xx in round 5 (after), after it was refused again from round 3")

	res.Cells[0].Observations, res.Breaches = res.Cells[0].Observations[:5], res.Breaches[:1]
	res.Cells[0].Reason = ""
	res.judge(fast())
	assert.True(t, res.Cells[0].Passed, res.Cells[0].Reason)
	assert.Equal(t, time.Duration(0), res.Cells[0].RecoveredAfter, "refused again in the first round after restoration")
}
