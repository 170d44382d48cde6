// Package disruption probes a matrix every round while something the mesh
// depends on is taken away and put back (istiod, the node proxy, the
// activator), and judges whether the mesh failed closed: no refused cell
// may ever answer 2xx, and the allowed cells must come back within the
// time limit after restoration. What was taken away is always put back.
package disruption

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// Disruption is one thing taken away and put back.
type Disruption struct {
	// Name is short and stable: reports and checks use it ("istiod").
	Name string
	// What says in a sentence what is taken away and how.
	What string
	// Take is the API write that takes it away (scale to zero, delete
	// pods): quick, so that it can run under the harness's lock against
	// Ctrl-C.
	Take func(ctx context.Context) error
	// Gone waits, bounded, until it is really away (no pod left); nil:
	// Take is enough.
	Gone func(ctx context.Context) error
	// Restore puts it back and waits, bounded, until it is ready again.
	// It must be idempotent: it runs once after Take, whatever happened,
	// and again from the harness on Ctrl-C.
	Restore func(ctx context.Context) error
}

// Phases of a round: when it began, relative to the disruption.
const (
	Before    = "before"    // nothing taken yet
	Taking    = "taking"    // Take or Gone under way
	Taken     = "taken"     // away, held for Settings.HoldRounds rounds
	Restoring = "restoring" // Restore under way (waits for ready)
	After     = "after"     // restored
)

// Settings bound a disruption run.
type Settings struct {
	// Matrix: RoundInterval paces the rounds, RequestTimeout bounds each
	// request, RequiredConsecutiveSuccesses is how many matching rounds in
	// a row an allowed cell needs after restoration to count as
	// recovered, and MaxTimeToConsistency is how long after restoration
	// it may take.
	matrix.Settings
	// BeforeRounds are probed before anything is taken (default 1): they
	// show the cells as they were.
	BeforeRounds int
	// HoldRounds are probed once it is gone, before it is restored
	// (default RequiredConsecutiveSuccesses).
	HoldRounds int
	// TakeLimit and RestoreLimit bound Take+Gone and Restore; they bound
	// the run's rounds too (default 2 minutes each).
	TakeLimit, RestoreLimit time.Duration
	// Guard registers restore with whatever restores on Ctrl-C and
	// returns how to unregister it; nil: nothing else restores.
	Guard func(name string, restore func(context.Context) error) (done func())
	// Removing runs Take unless the run is stopping (the harness's lock
	// against Ctrl-C); nil: Take runs as is.
	Removing func(take func() error) error
	// Path, when set, is read beside every round and recorded with it:
	// what carried the cells' requests at that moment (a Knative
	// revision's ServerlessService mode), so that each 2xx says which
	// path served it. An error is recorded as the path ("unknown: ...").
	Path func(ctx context.Context) (string, error)
	// ServedIsFinding makes a refused cell's 2xx a finding, not the
	// verdict: for a disruption under which a known limitation serves the
	// refused cells (Knative's activator while a model restarts), not the
	// mesh failing open. Every 2xx is still a Breach (see Windows); the
	// verdict on a refused cell is that it is refused as expected
	// RequiredConsecutiveSuccesses rounds in a row within
	// MaxTimeToConsistency after restoration, and never answers 2xx from
	// then on.
	ServedIsFinding bool
}

func (s Settings) withDefaults() Settings {
	if s.BeforeRounds <= 0 {
		s.BeforeRounds = 1
	}
	if s.RequiredConsecutiveSuccesses <= 0 {
		s.RequiredConsecutiveSuccesses = 1
	}
	if s.HoldRounds <= 0 {
		s.HoldRounds = s.RequiredConsecutiveSuccesses
	}
	if s.TakeLimit <= 0 {
		s.TakeLimit = 2 * time.Minute
	}
	if s.RestoreLimit <= 0 {
		s.RestoreLimit = 2 * time.Minute
	}
	return s
}

// maxRounds bounds the loop whatever the clock does: every phase's rounds
// at the round interval, plus the fixed ones.
func (s Settings) maxRounds() int {
	iv := s.RoundInterval
	if iv <= 0 {
		iv = time.Second
	}
	timed := int((s.TakeLimit + s.RestoreLimit + s.MaxTimeToConsistency) / iv)
	return s.BeforeRounds + s.HoldRounds + s.RequiredConsecutiveSuccesses + timed + 2
}

// Observation is what one cell got in one round.
type Observation struct {
	Round int
	Phase string
	// At is when the round began, from the start of the run.
	At time.Duration
	// EnvError is set when the cell could not be probed this round (the
	// exec failed, the client had no pod): no observation, no verdict.
	EnvError string
	Outcome  probe.Outcome
	// Matched: the outcome met the cell's expectation.
	Matched bool
	// Path is what Settings.Path read beside this round ("" without it).
	Path string
}

// Breach is a refused cell that answered 2xx: the mesh failed open.
type Breach struct {
	Round   int
	Phase   string
	At      time.Duration
	Cell    string
	Client  string
	Request string
	Outcome probe.Outcome
	// Path is what Settings.Path read beside the round ("" without it).
	Path string
}

func (b Breach) String() string {
	path := ""
	if b.Path != "" {
		path = " [path: " + b.Path + "]"
	}
	return fmt.Sprintf("round %d (%s, %s after start): cell %s (%s -> %s) answered %s: %s%s",
		b.Round, b.Phase, b.At.Round(time.Millisecond), b.Cell, b.Client, b.Request, b.Outcome, b.Outcome.Detail(), path)
}

// CellResult is a cell's account over the whole run.
type CellResult struct {
	matrix.Cell
	// Deny: the cell expects a refusal; a 2xx is a breach.
	Deny         bool
	Observations []Observation
	// Allowed cells, and refused cells under Settings.ServedIsFinding.
	// Down: it failed to match in some round after the disruption began;
	// DownAt is the first such round's start, DownRounds how many.
	// Recovered: after restoration it matched
	// RequiredConsecutiveSuccesses rounds in a row, the first beginning
	// RecoveredAfter the restoration returned. Downtime runs from DownAt
	// to that first round.
	Down           bool
	DownAt         time.Duration
	DownRounds     int
	Recovered      bool
	RecoveredAfter time.Duration
	Downtime       time.Duration
	// EnvErrors counts the rounds the cell could not be probed.
	EnvErrors int
	// Reason says why the cell failed, or why it has no verdict.
	Reason string
	// EnvironmentError: the environment kept the cell from being observed
	// enough for a verdict (never while it was taken away, or never after
	// restoration).
	EnvironmentError bool
	Passed           bool
}

// Result is the account of one disruption.
type Result struct {
	Disruption string
	What       string
	Matrix     string
	Rounds     int
	// RoundsByPhase counts the rounds that began in each phase.
	RoundsByPhase map[string]int
	Cells         []CellResult
	Breaches      []Breach
	// TakenAt, GoneAt and RestoredAt are from the start of the run (zero
	// when it did not happen).
	TakenAt, GoneAt, RestoredAt time.Duration
	Duration                    time.Duration
	// TakeErr: taking away or waiting for it to be gone failed: the
	// disruption did not happen as meant, no verdict on the mesh.
	TakeErr error
	// RestoreErr: putting it back failed: the cluster is left changed.
	RestoreErr error
	// Err: the run could not probe at all (no cell, an interrupted run).
	Err error
	// Restored is set once Restore returned without error.
	Restored bool
	// ServedIsFinding is Settings.ServedIsFinding: the Breaches are
	// findings, not the verdict.
	ServedIsFinding bool

	restoreStarted bool
}

// Passed tells whether the mesh failed closed and came back, and all of
// it was observed.
func (r Result) Passed() bool {
	if r.Err != nil || r.TakeErr != nil || r.RestoreErr != nil || r.FailedOpen() {
		return false
	}
	for _, c := range r.Cells {
		if !c.Passed {
			return false
		}
	}
	return true
}

// FailedOpen tells whether a refused cell answered 2xx: the verdict the
// feature exists for, whatever else went wrong. Under ServedIsFinding a
// 2xx is a finding: a refused cell that is not refused again fails its
// own verdict (CellResult.Reason).
func (r Result) FailedOpen() bool { return len(r.Breaches) > 0 && !r.ServedIsFinding }

// EnvironmentErrors lists the cells without a verdict.
func (r Result) EnvironmentErrors() []CellResult {
	var out []CellResult
	for _, c := range r.Cells {
		if c.EnvironmentError {
			out = append(out, c)
		}
	}
	return out
}

// Summary is one paragraph for logs and failure messages.
func (r Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "disruption %s (%s): %d rounds (before %d, taking %d, taken %d, restoring %d, after %d)",
		r.Disruption, r.What, r.Rounds, r.RoundsByPhase[Before], r.RoundsByPhase[Taking], r.RoundsByPhase[Taken], r.RoundsByPhase[Restoring], r.RoundsByPhase[After])
	for _, e := range []struct {
		what string
		err  error
	}{{"taking it away", r.TakeErr}, {"RESTORING IT", r.RestoreErr}, {"probing", r.Err}} {
		if e.err != nil {
			fmt.Fprintf(&b, "\n  %s failed: %v", e.what, e.err)
		}
	}
	served := "FAILED OPEN"
	if r.ServedIsFinding {
		served = "SERVED"
	}
	for _, br := range r.Breaches {
		fmt.Fprintf(&b, "\n  %s: %s", served, br)
	}
	for _, w := range Windows(r) {
		fmt.Fprintf(&b, "\n  %s", w)
	}
	for _, c := range r.Cells {
		switch {
		case c.Deny && c.Reason != "":
			fmt.Fprintf(&b, "\n  %s (refused): %s", c.Name, c.Reason)
		case c.Deny && r.ServedIsFinding && c.Down:
			fmt.Fprintf(&b, "\n  %s (refused): not refused as expected in %d round(s) from %s, refused again %s after restoration", c.Name, c.DownRounds,
				c.DownAt.Round(time.Millisecond), c.RecoveredAfter.Round(time.Millisecond))
		case c.Deny:
		case c.Recovered && c.Down:
			fmt.Fprintf(&b, "\n  %s (allowed): down %d round(s) from %s, recovered %s after restoration (down %s)", c.Name, c.DownRounds,
				c.DownAt.Round(time.Millisecond), c.RecoveredAfter.Round(time.Millisecond), c.Downtime.Round(time.Millisecond))
		case c.Recovered:
			fmt.Fprintf(&b, "\n  %s (allowed): never down", c.Name)
		default:
			fmt.Fprintf(&b, "\n  %s (allowed): %s", c.Name, c.Reason)
		}
	}
	return b.String()
}

// Run probes m every round while d is taken away and put back: BeforeRounds
// rounds, then Take and Gone (probing on), HoldRounds rounds with it gone,
// Restore (probing on), then rounds until every allowed cell has recovered
// and every refused cell was seen RequiredConsecutiveSuccesses times after
// restoration, or MaxTimeToConsistency after restoration. Restore runs
// once Take has been called, whatever happens: a failed probe, a failed
// Take, a cancelled ctx (then with a fresh bounded context).
func Run(ctx context.Context, d Disruption, m matrix.Matrix, ex probe.Executor, resolve matrix.Resolver, s Settings) (res Result) {
	s = s.withDefaults()
	start := time.Now()
	since := func() time.Duration { return time.Since(start) }
	res = Result{Disruption: d.Name, What: d.What, Matrix: m.Name, RoundsByPhase: map[string]int{}, ServedIsFinding: s.ServedIsFinding}
	res.Cells = make([]CellResult, len(m.Cells))
	for i, c := range m.Cells {
		res.Cells[i] = CellResult{Cell: c, Deny: c.Expect.Kind != matrix.Allowed}
	}
	if len(m.Cells) == 0 {
		res.Err = fmt.Errorf("matrix %s has no cells: a disruption without probes proves nothing", m.Name)
		return res
	}

	// The disruption runs beside the rounds; its steps report here.
	type step struct {
		phase string
		err   error
		at    time.Duration
	}
	events := make(chan step, 4)
	var wg sync.WaitGroup
	// restored is written by the restore goroutine, read after wg.Wait.
	restored := false
	restore := func(rctx context.Context) error {
		err := d.Restore(rctx)
		restored = restored || err == nil
		return err
	}
	taken := false
	done := func() {}
	defer func() {
		// Take may still be waiting for Gone: let it end before putting
		// back, so that nothing is taken after the restore.
		wg.Wait()
		if taken && !restored {
			// Not restored yet, or the attempt failed (a cancelled ctx
			// among others): once more, with a context of its own.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.RestoreLimit)
			if err := restore(rctx); err != nil {
				res.RestoreErr = errors.Join(res.RestoreErr, err)
			} else {
				res.RestoreErr = nil
			}
			cancel()
			if res.RestoredAt == 0 {
				res.RestoredAt = since()
			}
		}
		res.Restored = restored
		done()
		res.Duration = since()
		res.judge(s)
	}()

	phase := Before
	cl := &matrix.Clients{Resolve: resolve}
	var heldFrom, afterFrom int
	maxRounds := s.maxRounds()
	for round := 0; round < maxRounds; round++ {
		// Steps that finished since the last round.
	drain:
		for {
			select {
			case e := <-events:
				switch e.phase {
				case Taken:
					res.GoneAt = e.at
					if e.err != nil {
						res.TakeErr = e.err
						phase = Restoring // restore at once, below
						break
					}
					phase, heldFrom = Taken, round
				case After:
					res.RestoredAt, res.RestoreErr, phase, afterFrom = e.at, e.err, After, round
				}
			default:
				break drain
			}
		}
		switch {
		case phase == Before && round >= s.BeforeRounds:
			if err := s.removing(func() error { taken = true; return d.Take(ctx) }); err != nil {
				res.TakeErr = err
				if !taken {
					return res // nothing was taken: nothing to restore
				}
				phase = Restoring
				break
			}
			done = s.guard(d.Name, restore)
			res.TakenAt, phase = since(), Taking
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				if d.Gone != nil {
					gctx, cancel := context.WithTimeout(ctx, s.TakeLimit)
					err = d.Gone(gctx)
					cancel()
				}
				events <- step{Taken, err, since()}
			}()
		case phase == Taken && round-heldFrom >= s.HoldRounds:
			phase = Restoring
		}
		if phase == Restoring && taken && !res.restoreStarted {
			res.restoreStarted = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				rctx, cancel := context.WithTimeout(ctx, s.RestoreLimit)
				err := restore(rctx)
				cancel()
				events <- step{After, err, since()}
			}()
		}
		if ctx.Err() != nil {
			res.Err = fmt.Errorf("interrupted in round %d (%s): %w", round, phase, ctx.Err())
			return res
		}
		if phase == After && (res.settled(s, afterFrom) || since()-res.RestoredAt > s.MaxTimeToConsistency) {
			break
		}
		path := s.readPath(ctx)
		res.probeRound(ctx, round, phase, since, m, ex, cl, s, path)
		res.Rounds = round + 1
		res.RoundsByPhase[phase]++
		t := time.NewTimer(s.RoundInterval)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	if phase != After && res.Err == nil {
		res.Err = fmt.Errorf("the run ended in phase %s after %d rounds (the bound): the restoration never finished", phase, res.Rounds)
	}
	return res
}

func (s Settings) removing(take func() error) error {
	if s.Removing == nil {
		return take()
	}
	return s.Removing(take)
}

// readPath starts reading the path beside a round; the returned function
// waits for it. A read is bounded by the round's own time.
func (s Settings) readPath(ctx context.Context) func() string {
	if s.Path == nil {
		return func() string { return "" }
	}
	got := make(chan string, 1)
	go func() {
		pctx, cancel := context.WithTimeout(ctx, s.RequestTimeout+s.RoundInterval+5*time.Second)
		defer cancel()
		p, err := s.Path(pctx)
		if err != nil {
			p = "unknown: " + err.Error()
		}
		got <- p
	}()
	return func() string { return <-got }
}

func (s Settings) guard(name string, restore func(context.Context) error) func() {
	if s.Guard == nil {
		return func() {}
	}
	return s.Guard(name, restore)
}

// probeRound runs one round through the engine's own (each client's
// requests in one exec, clients in parallel); a refused cell's 2xx is
// recorded as a breach at once.
func (r *Result) probeRound(ctx context.Context, round int, phase string, since func() time.Duration, m matrix.Matrix,
	ex probe.Executor, cl *matrix.Clients, s Settings, pathOf func() string) {
	at := since()
	idx := make([]int, len(m.Cells))
	for i := range idx {
		idx[i] = i
	}
	// One round's worth of time to find a client's pod: a round must not
	// wait longer than the disruption it observes.
	oneRound := func(ctx context.Context) (context.Context, context.CancelFunc) {
		return context.WithTimeout(ctx, s.RequestTimeout+s.RoundInterval+5*time.Second)
	}
	probed := matrix.ProbeRound(ctx, m, idx, ex, cl, s.RequestTimeout, oneRound)
	path := pathOf()
	for _, i := range idx { // in cell order: breaches are listed stably
		p, c := probed[i], &r.Cells[i]
		if p.EnvErr != nil {
			c.EnvErrors++
			c.Observations = append(c.Observations, Observation{Round: round, Phase: phase, At: at, EnvError: p.EnvErr.Error(), Path: path})
			continue
		}
		o := p.Outcome
		if o.Kind == probe.KindClientError {
			c.EnvErrors++
			c.Observations = append(c.Observations, Observation{Round: round, Phase: phase, At: at, EnvError: "client error: " + o.Detail(), Path: path})
			continue
		}
		ok, _ := c.Expect.Match(o)
		c.Observations = append(c.Observations, Observation{Round: round, Phase: phase, At: at, Outcome: o, Matched: ok, Path: path})
		if c.Deny && is2xx(o) {
			r.Breaches = append(r.Breaches, Breach{Round: round, Phase: phase, At: at, Cell: c.Name, Client: c.Client.Name, Request: c.Request.String(),
				Outcome: o, Path: path})
		}
	}
}

// servedFrom is the cell's first 2xx from round on; nil: none.
func (r *Result) servedFrom(cell string, round int) *Breach {
	for i, b := range r.Breaches {
		if b.Cell == cell && b.Round >= round {
			return &r.Breaches[i]
		}
	}
	return nil
}

func is2xx(o probe.Outcome) bool {
	return o.Kind == probe.KindHTTP && o.HTTPCode >= 200 && o.HTTPCode < 300
}

// settled: every allowed cell recovered, and every refused cell was
// observed RequiredConsecutiveSuccesses times after restoration (refused
// as expected that many rounds in a row, under ServedIsFinding).
func (r *Result) settled(s Settings, afterFrom int) bool {
	for _, c := range r.Cells {
		if c.Deny && !r.ServedIsFinding {
			if observedFrom(c.Observations, afterFrom) < s.RequiredConsecutiveSuccesses {
				return false
			}
			continue
		}
		if _, ok := recoveredAt(c.Observations, afterFrom, s.RequiredConsecutiveSuccesses); !ok {
			return false
		}
	}
	return true
}

func observedFrom(obs []Observation, round int) int {
	n := 0
	for _, o := range obs {
		if o.Round >= round && o.EnvError == "" {
			n++
		}
	}
	return n
}

// recoveredAt finds the first round from round on that begins a streak of
// required matches; rounds without an observation neither count nor break
// the streak.
func recoveredAt(obs []Observation, round, required int) (Observation, bool) {
	var first Observation
	streak := 0
	for _, o := range obs {
		if o.Round < round || o.EnvError != "" {
			continue
		}
		if !o.Matched {
			streak = 0
			continue
		}
		if streak == 0 {
			first = o
		}
		streak++
		if streak >= required {
			return first, true
		}
	}
	return Observation{}, false
}

// judge sets each cell's verdict once the run is over.
func (r *Result) judge(s Settings) {
	afterFrom := -1
	for _, c := range r.Cells {
		for _, o := range c.Observations {
			if o.Phase == After && (afterFrom < 0 || o.Round < afterFrom) {
				afterFrom = o.Round
			}
		}
	}
	for i := range r.Cells {
		c := &r.Cells[i]
		during := 0
		for _, o := range c.Observations {
			if o.EnvError == "" && (o.Phase == Taking || o.Phase == Taken || o.Phase == Restoring) {
				during++
			}
		}
		if c.Deny && r.ServedIsFinding && during == 0 {
			c.EnvironmentError = true
			c.Reason = fmt.Sprintf("environment error, not a verdict: never observed while %s was away (%d round(s) could not probe)", r.Disruption, c.EnvErrors)
			continue
		}
		if c.Deny && !r.ServedIsFinding {
			var breaches []string
			for _, b := range r.Breaches {
				if b.Cell == c.Name {
					breaches = append(breaches, fmt.Sprintf("round %d (%s)", b.Round, b.Phase))
				}
			}
			switch {
			case len(breaches) > 0:
				c.Reason = "answered 2xx in " + strings.Join(breaches, ", ") + ": the mesh failed open"
			case during == 0:
				c.EnvironmentError = true
				c.Reason = fmt.Sprintf("environment error, not a verdict: never observed while %s was away (%d round(s) could not probe)", r.Disruption, c.EnvErrors)
			default:
				c.Passed = true
			}
			continue
		}
		for _, o := range c.Observations {
			if o.Phase != Before && o.EnvError == "" && !o.Matched {
				if !c.Down {
					c.Down, c.DownAt = true, o.At
				}
				c.DownRounds++
			}
		}
		if afterFrom < 0 {
			c.Reason = "never probed after restoration"
			c.EnvironmentError = r.RestoreErr == nil
			continue
		}
		first, ok := recoveredAt(c.Observations, afterFrom, s.RequiredConsecutiveSuccesses)
		switch {
		case !ok && observedFrom(c.Observations, afterFrom) == 0:
			c.EnvironmentError = true
			c.Reason = fmt.Sprintf("environment error, not a verdict: never observed after restoration (%d round(s) could not probe)", c.EnvErrors)
		case !ok && c.Deny:
			c.Reason = fmt.Sprintf("not refused as expected %d round(s) in a row within %s after restoration: isolation did not come back", s.RequiredConsecutiveSuccesses, s.MaxTimeToConsistency)
		case !ok:
			c.Reason = fmt.Sprintf("did not answer %d round(s) in a row within %s after restoration", s.RequiredConsecutiveSuccesses, s.MaxTimeToConsistency)
		default:
			c.Recovered = true
			c.RecoveredAfter = max(first.At-r.RestoredAt, 0)
			if c.Down {
				c.Downtime = first.At - c.DownAt
			}
			if late := r.servedFrom(c.Name, first.Round); c.Deny && late != nil {
				c.Reason = fmt.Sprintf("answered 2xx in round %d (%s), after it was refused again from round %d: isolation did not hold once restored",
					late.Round, late.Phase, first.Round)
				break
			}
			if c.RecoveredAfter > s.MaxTimeToConsistency {
				c.Reason = fmt.Sprintf("recovered %s after restoration, over the limit of %s", c.RecoveredAfter.Round(time.Millisecond), s.MaxTimeToConsistency)
			} else {
				c.Passed = true
			}
		}
	}
}
