package matrix

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	eof   = answer{Exit: 52, Code: 0, Body: ""}
)

var (
	inMesh  = Client{Name: "user1", Namespace: "user1", Selector: "app=client", Container: "client"}
	outside = Client{Name: "default", Namespace: "default", Selector: "app=client", Container: "client"}
)

func resolveByName(_ context.Context, c Client) (probe.Pod, error) {
	return probe.Pod{Namespace: c.Namespace, Name: c.Name, Container: c.Container}, nil
}

func fastSettings() Settings {
	return Settings{RequestTimeout: time.Second, MaxTimeToConsistency: 2 * time.Second, RequiredConsecutiveSuccesses: 3, RoundInterval: time.Millisecond}
}

func cell(name string, c Client, url string, e Expectation) Cell {
	return Cell{Name: name, Client: c, Request: probe.Request{URL: url}, Expect: e}
}

func TestConvergesAfterConsecutiveMatches(t *testing.T) {
	ex := newScripted(map[string][]answer{
		"user1 http://a/":   {ok200},
		"default http://a/": {rbac},
		// Policy still propagating: allowed twice, then denied for good.
		"default http://b/": {ok200, ok200, rbac},
		// Flaps once mid-streak: the streak must restart.
		"user1 http://b/": {ok200, ok200, reset, ok200},
	})
	m := Matrix{Name: "t", Cells: []Cell{
		cell("in-a", inMesh, "http://a/", Expect(Allowed)),
		cell("out-a", outside, "http://a/", denied403),
		cell("out-b", outside, "http://b/", denied403),
		cell("in-b", inMesh, "http://b/", Expect(Allowed)),
	}}
	res := Run(context.Background(), m, ex, resolveByName, fastSettings())
	require.NoError(t, res.Err)
	assert.True(t, res.Passed(), res.Table())
	attempts := map[string]int{}
	for _, c := range res.Cells {
		attempts[c.Name] = c.Attempts
	}
	assert.Equal(t, map[string]int{"in-a": 3, "out-a": 3, "out-b": 5, "in-b": 6}, attempts)
	assert.Equal(t, 6, res.Rounds)
	// One exec per client per round while it has unsettled cells.
	assert.Equal(t, 6, ex.Execs("user1"))
	assert.Equal(t, 5, ex.Execs("default"))
}

func TestFailingCellIsReportedWithEvidence(t *testing.T) {
	// default -> sklearn-iris answers 200: the policy is not enforced.
	ex := newScripted(map[string][]answer{
		"user1 http://sklearn-iris/":   {ok200},
		"default http://sklearn-iris/": {ok200},
	})
	m := Matrix{Name: "kserve", Cells: []Cell{
		cell("in", inMesh, "http://sklearn-iris/", Expect(Allowed)),
		cell("out", outside, "http://sklearn-iris/", denied403),
	}}
	s := fastSettings()
	s.MaxTimeToConsistency = 200 * time.Millisecond
	res := Run(context.Background(), m, ex, resolveByName, s)
	assert.False(t, res.Passed())
	require.Len(t, res.Failed(), 1)
	f := res.Failed()[0]
	assert.Equal(t, "out", f.Name)
	assert.Contains(t, f.Reason, "expected denied (HTTP 403)")
	assert.Contains(t, f.Reason, "observed HTTP 200")
	table := res.Table()
	assert.Contains(t, table, "FAIL out")
	assert.Contains(t, table, `body "{\"ready\":true}"`)
	assert.Regexp(t, `out\s+default\s+GET http://sklearn-iris/\s+denied \(HTTP 403\), body has "RBAC: access denied"\s+HTTP 200\s+\d+\s+FAIL`, table)
	assert.Regexp(t, `in\s+user1\s+GET http://sklearn-iris/\s+allowed \(2xx\)\s+HTTP 200\s+3\s+PASS`, table)
	assert.LessOrEqual(t, res.Duration, time.Second, "bounded by MaxTimeToConsistency")
}

func TestNotEnoughConsecutiveMatchesBeforeTheLimit(t *testing.T) {
	ex := newScripted(map[string][]answer{"user1 http://a/": {ok200, reset, ok200, reset, ok200, reset}})
	s := fastSettings()
	s.RoundInterval = 0
	s.MaxTimeToConsistency = time.Hour
	res := Run(context.Background(), Matrix{Cells: []Cell{cell("a", inMesh, "http://a/", Expect(Allowed))}}, ex, resolveByName, s)
	assert.False(t, res.Passed())
	assert.Equal(t, 3, res.Rounds, "bounded by MaxRounds even with a long time limit")
}

func TestUnresolvableClientFailsTheMatrix(t *testing.T) {
	res := Run(context.Background(), Matrix{Name: "m", Cells: []Cell{cell("a", inMesh, "http://a/", Expect(Allowed))}},
		newScripted(nil), func(context.Context, Client) (probe.Pod, error) { return probe.Pod{}, errors.New("no running pod") },
		fastSettings())
	assert.False(t, res.Passed())
	assert.ErrorContains(t, res.Err, "client user1")
	assert.Contains(t, res.Table(), "NOT RUN")
}

func TestExecFailureIsAnEnvironmentErrorNotAVerdict(t *testing.T) {
	res := Run(context.Background(), Matrix{Cells: []Cell{cell("a", inMesh, "http://a/", deniedL4)}},
		newScripted(map[string][]answer{}), resolveByName, Settings{RequestTimeout: time.Second, MaxTimeToConsistency: 50 * time.Millisecond, RequiredConsecutiveSuccesses: 1, RoundInterval: 10 * time.Millisecond})
	require.False(t, res.Passed())
	c := res.Cells[0]
	assert.True(t, c.EnvironmentError)
	assert.Zero(t, c.Attempts, "nothing was observed")
	assert.Positive(t, c.EnvErrors)
	assert.Contains(t, c.Reason, "environment error, not a verdict")
	assert.Contains(t, c.Reason, `no script for "user1 http://a/"`, "names the pod and the error")
	assert.Len(t, res.EnvironmentErrors(), 1)
}

// flaky wraps an executor: execs in the pods named in gone fail as the API
// server says when a pod was deleted; the n-th exec (1-based) in cut fails
// as a dropped stream does.
type flaky struct {
	scripted *probetest.Scripted
	gone     map[string]bool
	cut      map[int]bool
	mu       sync.Mutex
	n        int
}

func (f *flaky) Exec(ctx context.Context, pod probe.Pod, cmd []string) ([]byte, []byte, error) {
	f.mu.Lock()
	f.n++
	n := f.n
	f.mu.Unlock()
	if f.gone[pod.Name] {
		return nil, nil, fmt.Errorf(`pods "%s" not found`, pod.Name)
	}
	if f.cut[n] {
		return nil, nil, errors.New("error dialing backend: EOF")
	}
	return f.scripted.Exec(ctx, pod, cmd)
}

// The client's pod is killed after the first round; its Deployment brings a
// new one, which the engine finds by selector, and the matrix converges.
func TestAKilledClientIsFoundAgainBySelector(t *testing.T) {
	ex := &flaky{scripted: newScripted(map[string][]answer{"user1 http://a/": {ok200}, "user1-new http://a/": {ok200}}), gone: map[string]bool{}}
	var mu sync.Mutex
	resolves := 0
	resolve := func(_ context.Context, c Client) (probe.Pod, error) {
		mu.Lock()
		defer mu.Unlock()
		resolves++
		if resolves == 1 {
			return probe.Pod{Namespace: c.Namespace, Name: "user1", Container: c.Container}, nil
		}
		return probe.Pod{Namespace: c.Namespace, Name: "user1-new", Container: c.Container}, nil
	}
	s := fastSettings()
	s.RequiredConsecutiveSuccesses = 3
	res := Run(context.Background(), Matrix{Cells: []Cell{cell("a", inMesh, "http://a/", Expect(Allowed))}}, execAfter(ex, 1, func() { ex.gone["user1"] = true }), resolve, s)
	require.True(t, res.Passed(), res.Table())
	assert.Equal(t, 2, resolves, "resolved again after the pod went away")
	assert.Equal(t, 1, res.Cells[0].EnvErrors)
	assert.Contains(t, res.Cells[0].LastEnvError, `pods "user1" not found`)
	assert.Equal(t, 3, res.Cells[0].Attempts, "the lost round is no observation")
}

// execAfter runs hook once the n-th exec has returned.
func execAfter(ex probe.Executor, n int, hook func()) probe.Executor {
	var mu sync.Mutex
	count := 0
	return execFunc(func(ctx context.Context, pod probe.Pod, cmd []string) ([]byte, []byte, error) {
		out, errOut, err := ex.Exec(ctx, pod, cmd)
		mu.Lock()
		defer mu.Unlock()
		if count++; count == n {
			hook()
		}
		return out, errOut, err
	})
}

type execFunc func(ctx context.Context, pod probe.Pod, cmd []string) ([]byte, []byte, error)

func (f execFunc) Exec(ctx context.Context, pod probe.Pod, cmd []string) ([]byte, []byte, error) {
	return f(ctx, pod, cmd)
}

// A cut exec between two matching rounds neither breaks nor extends the
// streak; a real mismatch is still a verdict, whatever else happened.
func TestCutExecsSkipARoundAndMismatchesStayVerdicts(t *testing.T) {
	ex := &flaky{scripted: newScripted(map[string][]answer{"user1 http://a/": {ok200}}), cut: map[int]bool{2: true}}
	s := fastSettings()
	s.RequiredConsecutiveSuccesses = 2
	res := Run(context.Background(), Matrix{Cells: []Cell{cell("a", inMesh, "http://a/", Expect(Allowed))}}, ex, resolveByName, s)
	require.True(t, res.Passed(), res.Table())
	assert.Equal(t, 2, res.Cells[0].Attempts)
	assert.Equal(t, 1, res.Cells[0].EnvErrors)

	ex = &flaky{scripted: newScripted(map[string][]answer{"user1 http://a/": {ok200}}), cut: map[int]bool{1: true, 3: true}}
	res = Run(context.Background(), Matrix{Cells: []Cell{cell("a", inMesh, "http://a/", denied403)}}, ex, resolveByName, s)
	require.False(t, res.Passed())
	assert.False(t, res.Cells[0].EnvironmentError, "a 200 where 403 was expected is a verdict")
	assert.Contains(t, res.Cells[0].Reason, "expected denied (HTTP 403)")
}

func TestExpectations(t *testing.T) {
	out := func(a answer, loc string) probe.Outcome {
		return probe.Outcome{Kind: probe.Classify(a.Exit, a.Code, 0), HTTPCode: a.Code, Evidence: probe.Evidence{ExitCode: a.Exit, Body: a.Body, RedirectURL: loc}}
	}
	cases := []struct {
		e    Expectation
		o    probe.Outcome
		want bool
	}{
		{Expect(Allowed), out(ok200, ""), true},
		{Expect(Allowed), out(rbac, ""), false},
		{Expect(Allowed).WithBody(`"ready":true`), out(answer{Exit: 0, Code: 200, Body: "{}"}, ""), false},
		{denied403, out(rbac, ""), true},
		{denied403, out(answer{Exit: 0, Code: 403, Body: "other"}, ""), false},
		{denied403, out(reset, ""), false},
		{deniedL4, out(reset, ""), true},
		{deniedL4, out(eof, ""), true},
		{deniedL4, out(rbac, ""), false},
		{deniedL4, out(answer{Exit: 7, Code: 0, Body: ""}, ""), false},
		{Expect(DeniedL4), out(answer{Exit: 28, Code: 0, Body: ""}, ""), false},
		{Expect(Redirect).WithLocation("https://"), out(answer{Exit: 0, Code: 301, Body: ""}, "https://x.intel.com/"), true},
		{Expect(Redirect).WithLocation("https://"), out(answer{Exit: 0, Code: 301, Body: ""}, "http://x.intel.com/"), false},
		{Expect(Redirect), out(ok200, ""), false},
		{Expect(TLSRefused), out(answer{Exit: 35, Code: 0, Body: ""}, ""), true},
		{Expect(TLSRefused), out(answer{Exit: 60, Code: 0, Body: ""}, ""), false},
		{Expect(DNSFailure), out(answer{Exit: 6, Code: 0, Body: ""}, ""), true},
		{Expect(DNSFailure), out(answer{Exit: 7, Code: 0, Body: ""}, ""), false},
		{Expect(ConnectionRefused), out(answer{Exit: 7, Code: 0, Body: ""}, ""), true},
		{Expect(TimedOut), out(answer{Exit: 28, Code: 0, Body: ""}, ""), true},
		{Expect(TimedOut), out(ok200, ""), false},
		{Expectation{Kind: "maybe"}, out(ok200, ""), false},
	}
	for i, c := range cases {
		got, why := c.e.Match(c.o)
		assert.Equal(t, c.want, got, "case %d: %s vs %s: %s", i, c.e, c.o, why)
		if !got {
			assert.NotEmpty(t, why)
		}
	}
}

// bench2x50 is the matrix of the issue: 2 clients x 50 targets.
func bench2x50() (Matrix, *probetest.Scripted) {
	seq := map[string][]answer{}
	var cells []Cell
	for i := 0; i < 50; i++ {
		url := fmt.Sprintf("http://svc-%d.user1.svc.cluster.local/v1/models/m", i)
		seq["user1 "+url] = []answer{ok200}
		seq["default "+url] = []answer{rbac}
		cells = append(cells, cell(fmt.Sprintf("in-%d", i), inMesh, url, Expect(Allowed)),
			cell(fmt.Sprintf("out-%d", i), outside, url, denied403))
	}
	return Matrix{Name: "bench", Cells: cells}, newScripted(seq)
}

// BenchmarkConverge2x50: rendering the scripts, parsing and classifying 100
// results per round, and converging in 3 rounds (the probe engine's own
// cost; the network is scripted).
func BenchmarkConverge2x50(b *testing.B) {
	m, _ := bench2x50()
	s := Settings{RequestTimeout: 5 * time.Second, MaxTimeToConsistency: time.Minute, RequiredConsecutiveSuccesses: 3}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_, ex := bench2x50()
		res := Run(context.Background(), m, ex, resolveByName, s)
		if !res.Passed() {
			b.Fatal(res.Table())
		}
	}
}

// BenchmarkParse50 parses and classifies one client's round of 50 results.
func BenchmarkParse50(b *testing.B) {
	m, ex := bench2x50()
	var reqs []probe.Request
	for _, c := range m.Cells {
		if c.Client == inMesh {
			reqs = append(reqs, c.Request)
		}
	}
	out, _, err := ex.Exec(context.Background(), probe.Pod{Name: "user1"}, []string{"sh", "-c", probe.Script(reqs, 5*time.Second)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if o := probe.Parse(string(out), len(reqs)); o[49].Kind != probe.KindHTTP {
			b.Fatal(o[49])
		}
	}
}

func TestOnly(t *testing.T) {
	m := Matrix{Name: "m", Cells: []Cell{cell("a", inMesh, "http://a/", Expect(Allowed)), cell("b", outside, "http://b/", Expect(DeniedL4))}}
	got := m.Only("restored", "b", "nope")
	assert.Equal(t, "restored", got.Name)
	require.Len(t, got.Cells, 1)
	assert.Equal(t, "b", got.Cells[0].Name)
}

func TestUnknownAndEmptyMatricesAreRefused(t *testing.T) {
	m := Matrix{Name: "m", Cells: []Cell{{Name: "a", Client: Client{Name: "c"}, Expect: Expect(Allowed)}}}
	never := func(context.Context, Client) (probe.Pod, error) {
		t.Fatal("a refused matrix resolves no client")
		return probe.Pod{}, nil
	}
	s := Settings{MaxTimeToConsistency: time.Second, RequiredConsecutiveSuccesses: 1}
	res := Run(context.Background(), m.Only("restored", "a", "renamed"), nil, never, s)
	require.Error(t, res.Err)
	assert.Contains(t, res.Err.Error(), "names cells that do not exist: renamed")
	assert.False(t, res.Passed())

	res = Run(context.Background(), Matrix{Name: "empty"}, nil, never, s)
	require.Error(t, res.Err)
	assert.Contains(t, res.Err.Error(), "has no cells")
	assert.False(t, res.Passed())
}

// After a round in which every cell matched there is nothing to wait for:
// the confirming rounds follow at once. A mismatch still pauses.
func TestNoPauseAfterACleanRound(t *testing.T) {
	s := Settings{RequestTimeout: time.Second, MaxTimeToConsistency: time.Minute, RequiredConsecutiveSuccesses: 3, RoundInterval: time.Second}
	start := time.Now()
	res := Run(context.Background(), Matrix{Cells: []Cell{cell("a", inMesh, "http://a/", Expect(Allowed))}},
		newScripted(map[string][]answer{"user1 http://a/": {ok200}}), resolveByName, s)
	require.True(t, res.Passed())
	assert.Equal(t, 3, res.Rounds)
	assert.Less(t, time.Since(start), s.RoundInterval, "three clean rounds, not one pause between them")

	start = time.Now()
	res = Run(context.Background(), Matrix{Cells: []Cell{cell("a", inMesh, "http://a/", Expect(Allowed))}},
		newScripted(map[string][]answer{"user1 http://a/": {rbac, ok200}}), resolveByName, s)
	require.True(t, res.Passed())
	assert.Equal(t, 4, res.Rounds)
	assert.GreaterOrEqual(t, time.Since(start), time.Second, "the mismatch was followed by one pause")
}

// The time to revoke (or open) is from the write's return to the start of
// the round that began the passing streak, to within the round interval.
func TestConvergeTimesTheChange(t *testing.T) {
	s := Settings{RequestTimeout: time.Second, MaxTimeToConsistency: time.Minute, RequiredConsecutiveSuccesses: 3, RoundInterval: 100 * time.Millisecond}
	ex := newScripted(map[string][]answer{"user1 http://a/": {rbac, rbac, ok200}})
	wrote := false
	res, took, err := Converge(context.Background(), func(context.Context) error { wrote = true; return nil },
		Matrix{Name: "open", Cells: []Cell{cell("a", inMesh, "http://a/", Expect(Allowed))}}, ex, resolveByName, s)
	require.NoError(t, err)
	require.True(t, wrote)
	require.True(t, res.Passed())
	assert.Equal(t, 5, res.Rounds, "two refused rounds, then three that pass")
	assert.GreaterOrEqual(t, took, 200*time.Millisecond, "after the two paused rounds")
	assert.Less(t, took, 400*time.Millisecond)
	settled, ok := res.SettledAfter()
	require.True(t, ok)
	assert.Equal(t, res.RoundStarts[2], settled)

	// A matrix that never settles has no time; a failed write runs nothing.
	ex = newScripted(map[string][]answer{"user1 http://a/": {rbac}})
	s.MaxTimeToConsistency = 300 * time.Millisecond
	res, took, err = Converge(context.Background(), func(context.Context) error { return nil },
		Matrix{Name: "never", Cells: []Cell{cell("a", inMesh, "http://a/", Expect(Allowed))}}, ex, resolveByName, s)
	require.NoError(t, err)
	assert.False(t, res.Passed())
	assert.Zero(t, took)
	_, _, err = Converge(context.Background(), func(context.Context) error { return errors.New("forbidden") },
		Matrix{Name: "x", Cells: []Cell{cell("a", inMesh, "http://a/", Expect(Allowed))}}, ex, resolveByName, s)
	assert.ErrorContains(t, err, "forbidden")
}

// How a policy refusal looks behind a sidecar and from ztunnel (what
// DeniedByPolicy gives in each mode).
var (
	denied403 = Expect(DeniedHTTP403).WithBody("RBAC: access denied")
	deniedL4  = Expect(DeniedL4)
)
