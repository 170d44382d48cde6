// Package report writes the versioned conformance report: what was tested,
// on what, and for every cell what was expected and what was observed. It is
// written even when tests fail, and never contains a secret.
package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/secure-inference/mesh-conformance/tests/redact"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

const (
	// FileName is the report's name in the output directory.
	FileName = "report.yaml"
)

// Stats returns the median and the maximum of samples (0, 0 for none).
func Stats(samples []float64) (median, max float64) {
	if len(samples) == 0 {
		return 0, 0
	}
	sorted := append([]float64(nil), samples...)
	sort.Float64s(sorted)
	n := len(sorted)
	median = sorted[n/2]
	if n%2 == 0 {
		median = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	return median, sorted[n-1]
}

// Recorder collects results from the features of a run; it is safe for
// concurrent use. What a feature records goes through its own Scope (from
// Start, carried in the feature's context), so that a result belongs to
// the feature that produced it even when features run in parallel.
type Recorder struct {
	// Now stamps the report; tests set it for golden files.
	Now        func() time.Time
	mu         sync.Mutex
	env        reportapi.Environment
	impl       reportapi.Implementation
	provenance *reportapi.Provenance
	suites     map[string]*reportapi.Suite
	order      []string
	// open are the features started and not yet finished, in start order.
	open   []*Scope
	redact redact.Redactor
}

// NewRecorder starts a report.
func NewRecorder(env reportapi.Environment) *Recorder {
	return &Recorder{Now: time.Now, env: env, suites: map[string]*reportapi.Suite{}}
}

// WithRedactor makes the recorder scrub the run's secrets from everything
// it writes.
func (r *Recorder) WithRedactor(red redact.Redactor) *Recorder {
	r.redact = red
	return r
}

// SetProvenance records what the run rests on.
func (r *Recorder) SetProvenance(p *reportapi.Provenance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.provenance = p
}

// SetEnvironment updates what the run ran on (versions found after start).
func (r *Recorder) SetEnvironment(env reportapi.Environment) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.env = env
}

// SetProfileCells records the cells whose expectation differs between a
// suite's setup profiles (the harness computes them from the suite's
// matrices under each profile).
func (r *Recorder) SetProfileCells(suite string, cells []reportapi.ProfileCell) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.suite(suite).ProfileCells = cells
}

func (r *Recorder) suite(name string) *reportapi.Suite {
	s, ok := r.suites[name]
	if !ok {
		s = &reportapi.Suite{Name: name}
		r.suites[name] = s
		r.order = append(r.order, name)
	}
	return s
}

// SetImplementation records who runs the suite against what.
func (r *Recorder) SetImplementation(i reportapi.Implementation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.impl = i
}

// Scope is where results are recorded: one feature of a suite (from
// Start), or the suite's setup (from Setup), which holds what no feature
// owns: setup steps, and matrices a caller runs outside any feature.
type Scope struct {
	rec     *Recorder
	suite   string
	feature string
	support string
	// finished is guarded by rec.mu: the first Finish decides.
	finished bool
}

// Setup is the scope of what a suite records outside its features; a
// failed check there fails the suite's core profile directly.
func (r *Recorder) Setup(suite string) *Scope { return &Scope{rec: r, suite: suite} }

// Start opens the scope of a feature of a suite (support is
// reportapi.Core or reportapi.Extended); its checks, matrices, findings
// and timings name it, and Finish records its result. A feature started
// and never finished is reported as skipped ("did not finish"): without
// its own verdict, it proves nothing.
func (r *Recorder) Start(suite, feature, support string) *Scope {
	s := &Scope{rec: r, suite: suite, feature: feature, support: support}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.suite(suite)
	r.open = append(r.open, s)
	return s
}

// Check records a named check: err nil is success.
func (s *Scope) Check(name string, err error) {
	c := reportapi.Check{Name: name, Feature: s.feature, Result: reportapi.Success}
	if err != nil {
		c.Result, c.Message = reportapi.Failure, err.Error()
	}
	s.with(func(st *reportapi.Suite) { st.Checks = append(st.Checks, c) })
}

// Skip records a check that did not run.
func (s *Scope) Skip(name, why string) {
	c := reportapi.Check{Name: name, Feature: s.feature, Result: reportapi.Partial, Message: "skipped: " + why}
	s.with(func(st *reportapi.Suite) { st.Checks = append(st.Checks, c) })
}

// Matrix records a probed matrix, already in the report's terms (the
// harness converts the engine's results: this package knows nothing of
// probes).
func (s *Scope) Matrix(m reportapi.Matrix) {
	m.Feature = s.feature
	s.with(func(st *reportapi.Suite) { st.Matrices = append(st.Matrices, m) })
}

// Timing records a control's times.
func (s *Scope) Timing(t reportapi.Timing) {
	t.Feature = s.feature
	s.with(func(st *reportapi.Suite) { st.Timings = append(st.Timings, t) })
}

// AttackSurface records a workload's attack-surface table.
func (s *Scope) AttackSurface(a reportapi.AttackSurface) {
	a.Feature = s.feature
	s.with(func(st *reportapi.Suite) { st.AttackSurfaces = append(st.AttackSurfaces, a) })
}

// Disruption records a fail-closed disruption's account.
func (s *Scope) Disruption(d reportapi.Disruption) {
	d.Feature = s.feature
	s.with(func(st *reportapi.Suite) { st.Disruptions = append(st.Disruptions, d) })
}

// Finding records an observation that changes no result.
func (s *Scope) Finding(f reportapi.Finding) {
	f.Feature = s.feature
	s.with(func(st *reportapi.Suite) { st.Findings = append(st.Findings, f) })
}

// Finish records the feature's result (Success, Failure or Skipped), as
// the feature decided it; only the first call counts, so that a run that
// is stopping can close a feature whose own teardown may still come. It
// reports whether this call recorded the result; on a setup scope it
// records nothing.
func (s *Scope) Finish(result reportapi.Result, message string) bool {
	r := s.rec
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.feature == "" || s.finished {
		return false
	}
	s.finished = true
	r.open = slices.DeleteFunc(r.open, func(o *Scope) bool { return o == s })
	st := r.suite(s.suite)
	st.Features = append(st.Features, reportapi.Feature{Name: s.feature, Support: s.support, Result: result, Message: message})
	return true
}

func (s *Scope) with(add func(*reportapi.Suite)) {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	add(s.rec.suite(s.suite))
}

type scopeKey struct{}

// WithScope carries a feature's scope in its context: every step of the
// feature gets that context, and records through it.
func WithScope(ctx context.Context, s *Scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, s)
}

// ScopeOf is the scope carried by ctx, or nil outside any feature.
func ScopeOf(ctx context.Context) *Scope {
	s, _ := ctx.Value(scopeKey{}).(*Scope)
	return s
}

// Check records a named check of the suite's setup: err nil is success.
func (r *Recorder) Check(suite, name string, err error) { r.Setup(suite).Check(name, err) }

// Skip records a setup check that did not run; the suite becomes partial.
func (r *Recorder) Skip(suite, name, why string) { r.Setup(suite).Skip(name, why) }

// Matrix records a matrix that no feature owns (the lab's).
func (r *Recorder) Matrix(suite string, m reportapi.Matrix) { r.Setup(suite).Matrix(m) }

// Feature records the result of a feature that was never started: exempt,
// unclaimed or not selected (a started feature records through its Scope).
func (r *Recorder) Feature(suite string, f reportapi.Feature) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.suite(suite)
	s.Features = append(s.Features, f)
}

// unfinished is the message of a feature that started and has no result
// yet: the report was written while it ran (an interrupted run).
const unfinished = "did not finish: the report was written before the feature recorded its result"

// Report assembles the report as it stands.
func (r *Recorder) Report() reportapi.Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := reportapi.Report{APIVersion: reportapi.APIVersion, Kind: reportapi.Kind, Date: r.Now().UTC().Truncate(time.Second), Implementation: r.impl, Environment: r.env, Provenance: r.provenance}
	names := append([]string(nil), r.order...)
	sort.Strings(names)
	for _, n := range names {
		s := *r.suites[n]
		for _, o := range r.open {
			if o.suite == n {
				// Clipped: the recorder's own slice must not share the
				// appended element.
				s.Features = append(slices.Clip(s.Features), reportapi.Feature{Name: o.feature, Support: o.support, Result: reportapi.Skipped,
					Message: unfinished})
			}
		}
		s.Core, s.Extended = profiles(s)
		s.Result = s.Core.Result
		if s.Extended != nil && s.Extended.Result != "" {
			s.Result = worse(s.Result, s.Extended.Result)
		}
		rep.Suites = append(rep.Suites, s)
	}
	return rep
}

// profiles aggregates the core and extended results from the features'
// results, as the features decided them (the harness, from each feature's
// testing.T): a feature's checks and cells are its evidence, never a
// second verdict. Core fails on a failed core feature, is partial on a
// skipped one, and is never success when no core feature passed: a run
// that tested nothing proves nothing. What no feature owns (setup steps,
// the suite skipped for its mode, matrices recorded outside any feature)
// has no feature to decide for it, so it counts in core directly.
func profiles(s reportapi.Suite) (reportapi.Profile, *reportapi.Profile) {
	core := reportapi.Profile{Result: reportapi.Success}
	var ext *reportapi.Profile
	for _, f := range s.Features {
		p := &core
		if f.Support == reportapi.Extended {
			if ext == nil {
				ext = &reportapi.Profile{}
			}
			if f.Unsupported {
				ext.UnsupportedFeatures = append(ext.UnsupportedFeatures, f.Name)
				continue
			}
			ext.SupportedFeatures = append(ext.SupportedFeatures, f.Name)
			if ext.Result == "" {
				ext.Result = reportapi.Success
			}
			p = ext
		}
		switch f.Result {
		case reportapi.Success:
			p.Statistics.Passed++
		case reportapi.Failure:
			p.Statistics.Failed++
			p.FailedFeatures = append(p.FailedFeatures, f.Name)
			p.Result = reportapi.Failure
		default:
			p.Statistics.Skipped++
			p.SkippedFeatures = append(p.SkippedFeatures, f.Name)
			p.Result = worse(p.Result, reportapi.Partial)
		}
	}
	for _, c := range s.Checks {
		if c.Feature == "" {
			core.Result = worse(core.Result, c.Result)
		}
	}
	for _, m := range s.Matrices {
		if m.Feature != "" {
			continue
		}
		if m.Error != "" {
			core.Result = reportapi.Failure
		}
		for _, c := range m.Cells {
			if c.Result != reportapi.Success {
				core.Result = reportapi.Failure
			}
		}
	}
	if core.Statistics.Passed == 0 {
		core.Result = worse(core.Result, reportapi.Partial)
	}
	return core, ext
}

// worse orders results: failure, then partial, then success.
func worse(a, b reportapi.Result) reportapi.Result {
	rank := map[reportapi.Result]int{reportapi.Success: 0, reportapi.Partial: 1, reportapi.Skipped: 1, reportapi.Failure: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// Write writes the report to dir/FileName and returns its path.
func (r *Recorder) Write(dir string) (string, error) {
	data, err := r.Marshal()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	return path, nil
}

// Marshal renders the report as YAML with every secret scrubbed.
func (r *Recorder) Marshal() ([]byte, error) {
	data, err := yaml.Marshal(r.Report())
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return r.redact.Bytes(data), nil
}
