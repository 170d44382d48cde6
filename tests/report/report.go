// Package report writes the versioned conformance report: what was tested,
// on what, and for every cell what was expected and what was observed. It is
// written even when tests fail, and never contains a secret.
package report

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"

	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

const (
	// FileName is the report's name in the output directory.
	FileName = "report.yaml"
	// Redacted replaces every secret value.
	Redacted = "[REDACTED]"
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
// concurrent use.
type Recorder struct {
	// Now stamps the report; tests set it for golden files.
	Now        func() time.Time
	mu         sync.Mutex
	env        reportapi.Environment
	impl       reportapi.Implementation
	provenance *reportapi.Provenance
	suites     map[string]*reportapi.Suite
	order      []string
	current    map[string]string // suite -> the feature running now
	secrets    []string
}

// NewRecorder starts a report; secrets are scrubbed from everything written.
func NewRecorder(env reportapi.Environment, secrets ...string) *Recorder {
	return &Recorder{Now: time.Now, env: env, suites: map[string]*reportapi.Suite{}, current: map[string]string{}, secrets: secrets}
}

// SetEnvironment updates what the run ran on (versions found after start).
// SetProvenance records what the run rests on.
func (r *Recorder) SetProvenance(p *reportapi.Provenance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.provenance = p
}

func (r *Recorder) SetEnvironment(env reportapi.Environment) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.env = env
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

// Check records a named check: err nil is success.
func (r *Recorder) Check(suite, name string, err error) {
	c := reportapi.Check{Name: name, Result: reportapi.Success}
	if err != nil {
		c.Result, c.Message = reportapi.Failure, err.Error()
	}
	r.add(suite, c)
}

// Timing records a control's times.
func (r *Recorder) Timing(suite string, t reportapi.Timing) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Feature = r.current[suite]
	s := r.suite(suite)
	s.Timings = append(s.Timings, t)
}

// Finding records an observation that changes no result.
func (r *Recorder) Finding(suite string, f reportapi.Finding) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f.Feature = r.current[suite]
	s := r.suite(suite)
	s.Findings = append(s.Findings, f)
}

// Skip records a check that did not run; the suite becomes partial.
func (r *Recorder) Skip(suite, name, why string) {
	r.add(suite, reportapi.Check{Name: name, Result: reportapi.Partial, Message: "skipped: " + why})
}

// Enter marks the start of a feature: the checks and matrices recorded
// until its result is recorded belong to it.
func (r *Recorder) Enter(suite, feature string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.current[suite] = feature
}

// Feature records the result of a feature (Success, Failure or Skipped).
func (r *Recorder) Feature(suite string, f reportapi.Feature) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.suite(suite)
	s.Features = append(s.Features, f)
	if r.current[suite] == f.Name {
		delete(r.current, suite)
	}
}

func (r *Recorder) add(suite string, c reportapi.Check) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.Feature = r.current[suite]
	s := r.suite(suite)
	s.Checks = append(s.Checks, c)
}

// Matrix records a probed matrix, already in the report's terms (the
// harness converts the engine's results: this package knows nothing of
// probes).
func (r *Recorder) Matrix(suite string, m reportapi.Matrix) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m.Feature = r.current[suite]
	s := r.suite(suite)
	s.Matrices = append(s.Matrices, m)
}

// Report assembles the report as it stands.
func (r *Recorder) Report() reportapi.Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := reportapi.Report{APIVersion: reportapi.APIVersion, Kind: reportapi.Kind, Date: r.Now().UTC().Truncate(time.Second), Implementation: r.impl, Environment: r.env, Provenance: r.provenance}
	names := append([]string(nil), r.order...)
	sort.Strings(names)
	for _, n := range names {
		s := *r.suites[n]
		s.Core, s.Extended = profiles(s)
		s.Result = s.Core.Result
		if s.Extended != nil && s.Extended.Result != "" {
			s.Result = worse(s.Result, s.Extended.Result)
		}
		rep.Suites = append(rep.Suites, s)
	}
	return rep
}

// profiles computes the core and extended results. Core fails on a failed
// core feature, check or cell (setup steps count as core), is partial on a
// skipped core feature or check, and is never success when no core feature
// passed: a run that tested nothing proves nothing. The checks and cells of
// an extended feature count only through that feature's result.
func profiles(s reportapi.Suite) (reportapi.Profile, *reportapi.Profile) {
	core := reportapi.Profile{Result: reportapi.Success}
	var ext *reportapi.Profile
	extended := map[string]bool{}
	for _, f := range s.Features {
		if f.Support == reportapi.Extended {
			extended[f.Name] = true
		}
	}
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
		if !extended[c.Feature] {
			core.Result = worse(core.Result, c.Result)
		}
	}
	for _, m := range s.Matrices {
		if extended[m.Feature] {
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
	return []byte(Scrub(string(data), r.secrets...)), nil
}

// Scrub replaces every occurrence of each secret with Redacted.
func Scrub(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 { // shorter values would redact ordinary words
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	return s
}
