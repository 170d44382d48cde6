package harness

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/secure-inference/mesh-conformance/tests/options"
)

// A real run (a cluster, Istio, Knative, KServe, InferenceServices) takes
// far longer than go test's default -timeout of 10m, and go test kills a
// binary that overruns it (its own alarm panics at the timeout, and the go
// command kills it a minute later) with no teardown: no report, the
// restorers never run, a created kind cluster is left behind. So a suite
// compares the binary's timeout with its Budget before it creates or
// touches anything, and ends on its own, cleanly, before a deadline that
// still fires.

// processStart is when this test binary started, as near as a package can
// tell: go test's deadline counts from about here (the go command's kill
// from the process start, the testing package's alarm from m.Run, later).
var processStart = time.Now()

// teardownMargin is how long before the deadline a run stops itself: the
// restorers (30s each), the provenance (30s), the report and the deletion
// of a kind cluster must all fit. Under a timeout too short for a real run
// (a test of the harness itself) it is a tenth of the timeout.
const teardownMargin = 3 * time.Minute

// marginFor is the teardown margin under a timeout of d.
func marginFor(d time.Duration) time.Duration {
	if d <= 0 {
		return teardownMargin
	}
	return min(teardownMargin, d/10)
}

// Budget is what a run can take: the sum of the limits of its waits, each
// part named, so that a refusal says where the time goes.
type Budget struct {
	Parts []BudgetPart
}

// teardownPart names the budget's share for the teardown.
const teardownPart = "teardown"

// BudgetPart is one named share of a Budget.
type BudgetPart struct {
	What  string
	Limit time.Duration
}

// Add appends a part.
func (b *Budget) Add(what string, limit time.Duration) {
	b.Parts = append(b.Parts, BudgetPart{What: what, Limit: limit})
}

// Total is the sum of the parts.
func (b Budget) Total() time.Duration {
	var t time.Duration
	for _, p := range b.Parts {
		t += p.Limit
	}
	return t
}

// String is the total and its parts, for a one-line message.
func (b Budget) String() string {
	parts := make([]string, len(b.Parts))
	for i, p := range b.Parts {
		parts[i] = p.What + " " + budgetDuration(p.Limit)
	}
	return fmt.Sprintf("up to %s: %s", budgetDuration(b.Total()), strings.Join(parts, ", "))
}

// Timeout is the go test -timeout that covers the budget and the teardown,
// rounded up to the half hour, as a command line would carry it.
func (b Budget) Timeout() time.Duration {
	var need time.Duration
	for _, p := range b.Parts {
		if p.What == teardownPart {
			p.Limit = teardownMargin // a real run's, whatever the timeout now
		}
		need += p.Limit
	}
	return (need + 30*time.Minute - 1).Truncate(30 * time.Minute)
}

// shortDuration prints 3h25m0s as 3h25m and 10m0s as 10m.
func shortDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// setupBudget is what the cluster and the setup steps can take: a step's
// own Limit, or the install limit for an install step and the readiness
// limit for any other.
func setupBudget(o options.Options, steps []Step) Budget {
	var b Budget
	t := o.Timeouts
	if o.UsesExistingCluster() {
		// Another run may hold the cluster's lease; a kind cluster of
		// this run's own has no other run on it (the host lock).
		b.Add("run lease", t.ClusterLockTimeout)
	} else {
		b.Add("kind cluster", t.ClusterTimeout)
	}
	var installs, others time.Duration
	var nInstalls, nOthers int
	for _, s := range steps {
		switch {
		case s.Limit > 0:
			b.Add("step "+s.Name, s.Limit)
		case s.Component != "":
			installs += t.InstallTimeout
			nInstalls++
		default:
			others += t.ReadyTimeout
			nOthers++
		}
	}
	if nInstalls > 0 {
		b.Add(fmt.Sprintf("%d installs", nInstalls), installs)
	}
	if nOthers > 0 {
		b.Add(fmt.Sprintf("%d setup steps", nOthers), others)
	}
	return b
}

// featureLimit is what one feature can take: its own Limit, or by kind.
func featureLimit(r *Run, f Feature) time.Duration {
	if f.Limit != nil {
		return f.Limit(r.Opts)
	}
	t := r.Opts.Timeouts
	switch f.Kind {
	case KindPremise, KindCleanup:
		return t.ReadyTimeout
	case KindControl:
		// Each repeat converges twice (removed, restored).
		return time.Duration(2*r.Opts.ControlRepeats) * Settings(t).Longest()
	}
	ms, _ := f.planned(r.Opts)
	n := max(1, len(ms))
	return time.Duration(n) * Settings(t).Longest()
}

// budget is what the whole run can take.
func (s *Suite) budget(r *Run, steps []Step) Budget {
	b := setupBudget(r.Opts, steps)
	var fs time.Duration
	features := s.features(r.Opts)
	for _, f := range features {
		fs += featureLimit(r, f)
	}
	b.Add(fmt.Sprintf("%d features", len(features)), fs)
	b.Add(teardownPart, marginFor(testTimeout()))
	return b
}

// testTimeout is the test binary's -test.timeout (0: none, or not a test
// binary).
func testTimeout() time.Duration {
	f := flag.Lookup("test.timeout")
	if f == nil {
		return 0
	}
	if g, ok := f.Value.(flag.Getter); ok {
		if d, ok := g.Get().(time.Duration); ok {
			return d
		}
	}
	return 0
}

// Deadline is when go test's timeout fires, if it has one.
func Deadline() (time.Time, bool) {
	d := testTimeout()
	if d <= 0 {
		return time.Time{}, false
	}
	return processStart.Add(d), true
}

// checkTimeout says, in one line with the fix, why a run that can take b
// must not start under a timeout of d (0: none, always enough).
func checkTimeout(suite string, d time.Duration, b Budget) error {
	if d <= 0 || d >= b.Total() {
		return nil
	}
	return fmt.Errorf("go test's -timeout (%s; its default is 10m) is shorter than this run can take (%s); nothing was created or touched. Run it with a longer timeout: go test -tags e2e -v -timeout %s ./suites/%s/ (or every suite, one at a time: go test -tags e2e -p 1 -v -timeout %s ./suites/...), or make e2e",
		shortDuration(d), b, shortDuration(b.Timeout()), suite, shortDuration(b.Timeout()))
}

// timeoutVerdict is the dry run's line about the binary's timeout.
func timeoutVerdict(suite string, d time.Duration, b Budget) string {
	if err := checkTimeout(suite, d, b); err != nil {
		return "a real run would stop at once: " + err.Error()
	}
	if d <= 0 {
		return "go test's -timeout: none (-timeout 0): enough for a real run"
	}
	return fmt.Sprintf("go test's -timeout: %s: enough for a real run", shortDuration(d))
}

// watchDeadline ends the run on its own teardownMargin before go test's
// deadline: features under way are recorded as interrupted, the restorers
// run, the report is written and a created kind cluster deleted, as on
// Ctrl-C; Main exits 1.
func (r *Run) watchDeadline() {
	deadline, ok := Deadline()
	if !ok {
		return
	}
	stopAt := time.Until(deadline) - marginFor(testTimeout())
	time.AfterFunc(max(stopAt, 0), func() {
		r.stop(fmt.Sprintf("go test's -timeout (%s) fires at %s: the suite stops itself first", shortDuration(testTimeout()), deadline.Format("15:04:05")),
			"the test binary's deadline", 1)
	})
}

// hostLockWait is how long this run may wait for another on the host: its
// own bound, and no longer than leaves the budget before the deadline.
func (r *Run) hostLockWait(b Budget) time.Duration {
	wait := r.Opts.Timeouts.HostLockTimeout
	if deadline, ok := Deadline(); ok {
		wait = min(wait, time.Until(deadline)-b.Total())
	}
	return max(wait, 0)
}

// budgetDuration is a budget figure: whole minutes, rounded up, from a
// minute on (a budget is never understated).
func budgetDuration(d time.Duration) string {
	if t := d.Truncate(time.Minute); d >= time.Minute && t < d {
		d = t + time.Minute
	}
	return shortDuration(d)
}
