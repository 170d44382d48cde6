package matrix

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// Client is a pod that sends requests, named by how to find it, so a matrix
// can be written down before the pods exist.
type Client struct {
	// Name is the short name used in tables ("user1", "default").
	Name      string
	Namespace string
	// Selector is a label selector that picks the client's pods.
	Selector string
	// Container is the application container curl runs in.
	Container string
	// Local is the test machine itself: its requests reach the cluster
	// from outside, as a user's would, through the same rounds as the
	// in-cluster clients'.
	Local bool
}

// Cell is one (client, request, expectation) of a matrix.
type Cell struct {
	// Name is stable across runs: reports and selection use it.
	Name    string
	Client  Client
	Request probe.Request
	Expect  Expectation
}

// Matrix is a named set of cells.
type Matrix struct {
	Name  string
	Cells []Cell
	// unknown are names Only was asked for that are no cell: Run refuses
	// the matrix rather than run fewer cells than its author meant.
	unknown []string
}

// Resolver finds the pod to run a client's requests in.
type Resolver func(ctx context.Context, c Client) (probe.Pod, error)

// Settings bound a run; they come from options.TimeoutConfig.
type Settings struct {
	RequestTimeout               time.Duration
	MaxTimeToConsistency         time.Duration
	RequiredConsecutiveSuccesses int
	RoundInterval                time.Duration
}

// MaxRounds is the most rounds a run may take: enough to use the whole
// time budget at the round interval, and never unbounded.
func (s Settings) MaxRounds() int {
	if s.RoundInterval <= 0 {
		return s.RequiredConsecutiveSuccesses
	}
	n := int(s.MaxTimeToConsistency/s.RoundInterval) + 1
	if n < s.RequiredConsecutiveSuccesses {
		n = s.RequiredConsecutiveSuccesses
	}
	return n
}

// Longest is how long a run of the rounds may last at the round interval:
// the time to consistency, or the required successes in a row when they
// take longer (the probes' own time comes on top).
func (s Settings) Longest() time.Duration {
	if s.RoundInterval <= 0 {
		return s.MaxTimeToConsistency
	}
	return max(s.MaxTimeToConsistency, time.Duration(s.MaxRounds())*s.RoundInterval)
}

// CellResult is what became of one cell.
type CellResult struct {
	Cell
	Passed bool
	// Attempts is how many times the cell was probed; Streak the matching
	// rounds in a row at the end.
	Attempts int
	Streak   int
	// Last is the latest outcome; Reason says why it did not match.
	Last     probe.Outcome
	Reason   string
	Duration time.Duration
	// EnvErrors counts rounds in which the cell could not be probed (the
	// exec failed or was cut, the client pod was gone): they are neither a
	// match nor a mismatch. LastEnvError is the latest, naming the pod and
	// the API error.
	EnvErrors    int
	LastEnvError string
	// EnvironmentError is set on a cell that did not pass because the
	// environment kept it from being observed enough: its failure is no
	// verdict on the cluster's enforcement.
	EnvironmentError bool
	// streakFrom is the round in which the current streak began.
	streakFrom int
}

// Result is what became of a matrix.
type Result struct {
	Matrix   string
	Cells    []CellResult
	Rounds   int
	Duration time.Duration
	// RoundStarts is when each round began, from the start of the run.
	RoundStarts []time.Duration
	started     time.Time
	// Err is set when the run could not probe at all (a client pod missing).
	Err error
}

// Passed tells whether every cell passed.
func (r Result) Passed() bool {
	if r.Err != nil {
		return false
	}
	for _, c := range r.Cells {
		if !c.Passed {
			return false
		}
	}
	return true
}

// Failed lists the cells that did not pass.
func (r Result) Failed() []CellResult {
	var out []CellResult
	for _, c := range r.Cells {
		if !c.Passed {
			out = append(out, c)
		}
	}
	return out
}

// Run probes the matrix in rounds. In each round every client with cells
// still unsettled runs all of its requests in one exec, clients in
// parallel. A cell passes once it has matched in RequiredConsecutiveSuccesses
// rounds in a row and is not probed again; a mismatch resets its streak. The
// run ends when every cell passed, or at MaxTimeToConsistency, or after
// MaxRounds rounds, whichever comes first.
func Run(ctx context.Context, m Matrix, ex probe.Executor, resolve Resolver, s Settings) Result {
	start := time.Now()
	deadline := start.Add(s.MaxTimeToConsistency)
	res := Result{Matrix: m.Name, Cells: make([]CellResult, len(m.Cells)), started: start}
	for i, c := range m.Cells {
		res.Cells[i] = CellResult{Cell: c}
	}
	switch {
	case len(m.unknown) > 0:
		res.Err = fmt.Errorf("matrix %s names cells that do not exist: %s", m.Name, strings.Join(m.unknown, ", "))
		return res
	case len(m.Cells) == 0:
		res.Err = fmt.Errorf("matrix %s has no cells: an empty matrix proves nothing", m.Name)
		return res
	}

	// Every client's pod first: a client that has none is no verdict.
	cl := &Clients{Resolve: resolve}
	for _, c := range m.Cells {
		if _, err := cl.Find(ctx, c.Client); err != nil {
			res.Err = err
			res.Duration = time.Since(start)
			return res
		}
	}
	untilDeadline := func(ctx context.Context) (context.Context, context.CancelFunc) {
		return context.WithDeadline(ctx, deadline)
	}

	maxRounds := s.MaxRounds()
	for round := 0; round < maxRounds; round++ {
		res.RoundStarts = append(res.RoundStarts, time.Since(start))
		var idx []int
		for i := range res.Cells {
			if !res.Cells[i].Passed {
				idx = append(idx, i)
			}
		}
		pending := len(idx) > 0
		misses := 0 // cells of this round that mismatched or could not be probed
		probed := ProbeRound(ctx, m, idx, ex, cl, s.RequestTimeout, untilDeadline)
		for _, i := range idx {
			p := probed[i]
			if p.EnvErr != nil {
				res.Cells[i].EnvErrors++
				res.Cells[i].LastEnvError = p.EnvErr.Error()
				misses++
				continue
			}
			if !res.Cells[i].record(p.Outcome, s.RequiredConsecutiveSuccesses, time.Since(start), round) {
				misses++
			}
		}
		if !pending {
			break
		}
		res.Rounds = round + 1
		if res.allPassed() || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		if misses == 0 {
			// Every cell matched: the next round confirms at once. The
			// pause is for what is still settling.
			continue
		}
		t := time.NewTimer(s.RoundInterval)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	res.Duration = time.Since(start)
	for i := range res.Cells {
		c := &res.Cells[i]
		switch {
		case c.Passed:
		case c.EnvErrors > 0 && (c.Reason == "" || c.Attempts == 0):
			// Never seen to mismatch, only not seen enough.
			c.EnvironmentError = true
			c.Reason = fmt.Sprintf("environment error, not a verdict: %d round(s) could not probe (last: %s); matched %d round(s) in a row, %d required",
				c.EnvErrors, c.LastEnvError, c.Streak, s.RequiredConsecutiveSuccesses)
		case c.Reason != "":
		case c.Attempts == 0:
			c.Reason = "never probed: the run was interrupted"
		default:
			c.Reason = fmt.Sprintf("matched %d round(s) in a row, %d required, before the time limit (%s, %d rounds)",
				c.Streak, s.RequiredConsecutiveSuccesses, s.MaxTimeToConsistency, res.Rounds)
		}
	}
	return res
}

// SettledAfter is when, from the start of the run, the matrix settled: the
// start of the latest round in which a cell began the streak that passed
// it. Only a passed matrix settles. Its resolution is the round interval.
func (r Result) SettledAfter() (time.Duration, bool) {
	if !r.Passed() {
		return 0, false
	}
	var at time.Duration
	for _, c := range r.Cells {
		if c.streakFrom < len(r.RoundStarts) && r.RoundStarts[c.streakFrom] > at {
			at = r.RoundStarts[c.streakFrom]
		}
	}
	return at, true
}

// Converge makes a change (write: the API call that removes or restores a
// policy), then runs the matrix, and returns how long after the change
// returned the cluster settled into the matrix's expectations: the time to
// enforce or to revoke, to within the round interval.
func Converge(ctx context.Context, write func(context.Context) error, m Matrix, ex probe.Executor, resolve Resolver, s Settings) (Result, time.Duration, error) {
	if err := write(ctx); err != nil {
		return Result{Matrix: m.Name}, 0, err
	}
	written := time.Now()
	res := Run(ctx, m, ex, resolve, s)
	settled, ok := res.SettledAfter()
	if !ok {
		return res, 0, nil
	}
	// Run began a moment after the write: count from the write.
	return res, settled + res.startedAfter(written), nil
}

func (r Result) startedAfter(t time.Time) time.Duration { return r.started.Sub(t) }

// EnvironmentErrors lists the cells that failed only because the
// environment kept them from being observed.
func (r Result) EnvironmentErrors() []CellResult {
	var out []CellResult
	for _, c := range r.Cells {
		if c.EnvironmentError {
			out = append(out, c)
		}
	}
	return out
}

// record counts an observation and tells whether it matched.
func (c *CellResult) record(o probe.Outcome, required int, elapsed time.Duration, round int) bool {
	c.Attempts++
	c.Last = o
	c.Duration = elapsed
	ok, why := c.Expect.Match(o)
	if ok {
		if c.Streak == 0 {
			c.streakFrom = round
		}
		c.Streak++
		c.Reason = ""
		c.Passed = c.Streak >= required
	} else {
		c.Streak = 0
		c.Reason = why
	}
	return ok
}

func (r Result) allPassed() bool {
	for _, c := range r.Cells {
		if !c.Passed {
			return false
		}
	}
	return true
}

// Only returns the matrix restricted to the named cells, renamed. Names
// that are no cell of m make Run refuse the matrix: a control whose cell
// was renamed must fail, not pass on fewer cells.
func (m Matrix) Only(name string, cells ...string) Matrix {
	keep := map[string]bool{}
	for _, c := range cells {
		keep[c] = true
	}
	out := Matrix{Name: name, unknown: m.unknown}
	for _, c := range m.Cells {
		if keep[c.Name] {
			out.Cells = append(out.Cells, c)
			delete(keep, c.Name)
		}
	}
	for _, c := range cells {
		if keep[c] {
			out.unknown = append(out.unknown, c)
		}
	}
	return out
}
