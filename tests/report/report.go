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

	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

const (
	// APIVersion of the report format. Bump it on any incompatible change.
	APIVersion = "mesh-conformance.secure-inference.io/v1alpha1"
	// Kind of the report document.
	Kind = "ConformanceReport"
	// FileName is the report's name in the output directory.
	FileName = "report.yaml"
	// Redacted replaces every secret value.
	Redacted = "[REDACTED]"
)

// Result of a suite.
type Result string

const (
	Success Result = "success"
	// Partial: nothing failed, but a check was skipped.
	Partial Result = "partial"
	Failure Result = "failure"
)

// Report is the document written to FileName.
type Report struct {
	APIVersion     string         `json:"apiVersion"`
	Kind           string         `json:"kind"`
	Date           time.Time      `json:"date"`
	Implementation Implementation `json:"implementation,omitempty"`
	Environment    Environment    `json:"environment"`
	Suites         []Suite        `json:"suites"`
}

// Implementation identifies the distribution under test.
type Implementation struct {
	Organization string `json:"organization,omitempty"`
	Project      string `json:"project,omitempty"`
	URL          string `json:"url,omitempty"`
	Version      string `json:"version,omitempty"`
	Contact      string `json:"contact,omitempty"`
}

// Environment describes what the run ran on.
type Environment struct {
	// Cluster is the kind cluster name, or "existing" with the context.
	Cluster           string            `json:"cluster"`
	KubernetesVersion string            `json:"kubernetesVersion,omitempty"`
	Mode              string            `json:"mode"`
	Versions          map[string]string `json:"versions,omitempty"`
}

// Suite is the result of one suite.
type Suite struct {
	Name     string   `json:"name"`
	Result   Result   `json:"result"`
	Checks   []Check  `json:"checks,omitempty"`
	Matrices []Matrix `json:"matrices,omitempty"`
}

// Check is a named assertion outside a matrix (a premise, a control).
type Check struct {
	Name    string `json:"name"`
	Result  Result `json:"result"`
	Message string `json:"message,omitempty"`
}

// Matrix is one probed matrix.
type Matrix struct {
	Name            string  `json:"name"`
	Rounds          int     `json:"rounds"`
	DurationSeconds float64 `json:"durationSeconds"`
	Error           string  `json:"error,omitempty"`
	Cells           []Cell  `json:"cells"`
}

// Cell is one probed cell.
type Cell struct {
	Name            string         `json:"name"`
	Client          string         `json:"client"`
	Request         string         `json:"request"`
	Expected        string         `json:"expected"`
	Observed        string         `json:"observed"`
	Result          Result         `json:"result"`
	Attempts        int            `json:"attempts"`
	DurationSeconds float64        `json:"durationSeconds"`
	Note            string         `json:"note,omitempty"`
	Reason          string         `json:"reason,omitempty"`
	Evidence        probe.Evidence `json:"evidence"`
}

// Recorder collects results from the features of a run; it is safe for
// concurrent use.
type Recorder struct {
	// Now stamps the report; tests set it for golden files.
	Now     func() time.Time
	mu      sync.Mutex
	env     Environment
	impl    Implementation
	suites  map[string]*Suite
	order   []string
	secrets []string
}

// NewRecorder starts a report; secrets are scrubbed from everything written.
func NewRecorder(env Environment, secrets ...string) *Recorder {
	return &Recorder{Now: time.Now, env: env, suites: map[string]*Suite{}, secrets: secrets}
}

// SetEnvironment updates what the run ran on (versions found after start).
func (r *Recorder) SetEnvironment(env Environment) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.env = env
}

func (r *Recorder) suite(name string) *Suite {
	s, ok := r.suites[name]
	if !ok {
		s = &Suite{Name: name}
		r.suites[name] = s
		r.order = append(r.order, name)
	}
	return s
}

// SetImplementation records who runs the suite against what.
func (r *Recorder) SetImplementation(i Implementation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.impl = i
}

// Check records a named check: err nil is success.
func (r *Recorder) Check(suite, name string, err error) {
	c := Check{Name: name, Result: Success}
	if err != nil {
		c.Result, c.Message = Failure, err.Error()
	}
	r.add(suite, c)
}

// Skip records a check that did not run; the suite becomes partial.
func (r *Recorder) Skip(suite, name, why string) {
	r.add(suite, Check{Name: name, Result: Partial, Message: "skipped: " + why})
}

func (r *Recorder) add(suite string, c Check) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.suite(suite)
	s.Checks = append(s.Checks, c)
}

// Matrix records a probed matrix.
func (r *Recorder) Matrix(suite string, res matrix.Result) {
	m := Matrix{Name: res.Matrix, Rounds: res.Rounds, DurationSeconds: res.Duration.Seconds()}
	if res.Err != nil {
		m.Error = res.Err.Error()
	}
	for _, c := range res.Cells {
		cell := Cell{
			Name: c.Name, Client: c.Client.Name, Request: c.Request.String(), Expected: c.Expect.String(),
			Observed: "-", Result: Failure, Attempts: c.Attempts, DurationSeconds: c.Duration.Seconds(),
			Note: c.Expect.Note, Reason: c.Reason, Evidence: c.Last.Evidence,
		}
		if c.Attempts > 0 {
			cell.Observed = c.Last.String()
		}
		if c.Passed && res.Err == nil {
			cell.Result = Success
		}
		m.Cells = append(m.Cells, cell)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.suite(suite)
	s.Matrices = append(s.Matrices, m)
}

// Report assembles the report as it stands.
func (r *Recorder) Report() Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := Report{APIVersion: APIVersion, Kind: Kind, Date: r.Now().UTC().Truncate(time.Second), Implementation: r.impl, Environment: r.env}
	names := append([]string(nil), r.order...)
	sort.Strings(names)
	for _, n := range names {
		s := *r.suites[n]
		s.Result = suiteResult(s)
		rep.Suites = append(rep.Suites, s)
	}
	return rep
}

func suiteResult(s Suite) Result {
	res := Success
	for _, c := range s.Checks {
		switch c.Result {
		case Failure:
			return Failure
		case Partial:
			res = Partial
		}
	}
	for _, m := range s.Matrices {
		if m.Error != "" {
			return Failure
		}
		for _, c := range m.Cells {
			if c.Result != Success {
				return Failure
			}
		}
	}
	return res
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
