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
	// Skipped is the result of a feature that did not run.
	Skipped Result = "skipped"
)

// Support levels of a feature, as in Gateway API conformance.
const (
	// Core features are always claimed: skipping one makes the suite partial.
	Core = "core"
	// Extended features run only when the implementation claims them.
	Extended = "extended"
)

// Report is the document written to FileName.
type Report struct {
	APIVersion     string         `json:"apiVersion"`
	Kind           string         `json:"kind"`
	Date           time.Time      `json:"date"`
	Implementation Implementation `json:"implementation,omitempty"`
	Environment    Environment    `json:"environment"`
	// Provenance says what the verdicts rest on: the suite's own source,
	// what it applied, what ran.
	Provenance *Provenance `json:"provenance,omitempty"`
	Suites     []Suite     `json:"suites"`
}

// Provenance is what makes a report reproducible and trustworthy.
type Provenance struct {
	Suite SuiteSource `json:"suite"`
	// Fixtures are the sha256 of every manifest and values file the suite
	// carries, by path under fixtures/.
	Fixtures map[string]string `json:"fixtures,omitempty"`
	// Charts are the Helm releases as installed.
	Charts []Chart `json:"charts,omitempty"`
	// Cluster is what ran.
	Cluster *ClusterProvenance `json:"cluster,omitempty"`
	// Reproduce is the command line of the run, secrets redacted.
	Reproduce []string `json:"reproduce,omitempty"`
}

// SuiteSource is the suite's own identity.
type SuiteSource struct {
	Module string `json:"module"`
	Commit string `json:"commit,omitempty"`
	// Dirty: the working tree differed from Commit; FixturesEdited: in
	// fixtures/ (what the run applied is not what the commit holds).
	Dirty          bool     `json:"dirty"`
	FixturesEdited bool     `json:"fixturesEdited"`
	Changed        []string `json:"changed,omitempty"`
}

// Chart is one Helm release as installed.
type Chart struct {
	Release   string `json:"release"`
	Namespace string `json:"namespace"`
	Chart     string `json:"chart"`
	Version   string `json:"version,omitempty"`
	Source    string `json:"source"`
	Digest    string `json:"digest,omitempty"`
}

// ClusterProvenance identifies the cluster and what it ran.
type ClusterProvenance struct {
	// KubeSystemUID identifies the cluster (kube-system's UID).
	KubeSystemUID string `json:"kubeSystemUID,omitempty"`
	Nodes         []Node `json:"nodes,omitempty"`
	// IstioRevision and RootCertSHA256 (of istio-ca-root-cert) identify
	// the mesh and its trust root.
	IstioRevision  string `json:"istioRevision,omitempty"`
	RootCertSHA256 string `json:"rootCertSHA256,omitempty"`
	// Images are the image digests pods ran, by image reference.
	Images []Image `json:"images,omitempty"`
}

// Node is one node's versions.
type Node struct {
	Name             string `json:"name"`
	Kubelet          string `json:"kubelet"`
	ContainerRuntime string `json:"containerRuntime"`
	OSImage          string `json:"osImage"`
}

// Image is what a container ran: its reference and the digest (imageID)
// the runtime reported.
type Image struct {
	Namespace string `json:"namespace"`
	Image     string `json:"image"`
	ImageID   string `json:"imageID"`
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

// Suite is the result of one suite: the worse of its core and extended
// results.
type Suite struct {
	Name   string `json:"name"`
	Result Result `json:"result"`
	// Core holds the features every implementation must pass, and the
	// setup steps; a skipped core feature makes it partial, never success.
	Core Profile `json:"core"`
	// Extended holds the features an implementation may claim; those it
	// does not claim are listed as unsupported and change no result.
	Extended *Profile  `json:"extended,omitempty"`
	Features []Feature `json:"features,omitempty"`
	Checks   []Check   `json:"checks,omitempty"`
	Matrices []Matrix  `json:"matrices,omitempty"`
	// Findings are observations that carry no verdict but that a reader
	// must see (what a cross-namespace request got while a model was
	// cold), with curl's evidence.
	Findings []Finding `json:"findings,omitempty"`
	// Timings are the controls' times to open and to revoke.
	Timings []Timing `json:"timings,omitempty"`
}

// Timing is how long a control's changes took to show in traffic, per
// repetition: from the API write that removed the resources until the
// refused requests were answered (open), and from the write that restored
// them until they were refused again (revoke). ResolutionSeconds, the
// round interval, bounds the precision.
type Timing struct {
	Control           string    `json:"control"`
	Feature           string    `json:"feature,omitempty"`
	OpenSeconds       []float64 `json:"openSeconds,omitempty"`
	RevokeSeconds     []float64 `json:"revokeSeconds,omitempty"`
	MedianOpen        float64   `json:"medianOpenSeconds,omitempty"`
	MaxOpen           float64   `json:"maxOpenSeconds,omitempty"`
	MedianRevoke      float64   `json:"medianRevokeSeconds,omitempty"`
	MaxRevoke         float64   `json:"maxRevokeSeconds,omitempty"`
	ResolutionSeconds float64   `json:"resolutionSeconds"`
	// MaxTimeToRevokeSeconds, when set, made the revoke time a verdict.
	MaxTimeToRevokeSeconds float64 `json:"maxTimeToRevokeSeconds,omitempty"`
	Result                 Result  `json:"result,omitempty"`
}

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

// Finding is an observation without a verdict.
type Finding struct {
	Name string `json:"name"`
	// Feature is the feature that made the observation.
	Feature  string         `json:"feature,omitempty"`
	Client   string         `json:"client,omitempty"`
	Request  string         `json:"request,omitempty"`
	Observed string         `json:"observed"`
	Note     string         `json:"note,omitempty"`
	Evidence probe.Evidence `json:"evidence"`
	// Seconds holds timings by name (time to first byte, time to ready).
	Seconds map[string]float64 `json:"seconds,omitempty"`
}

// Profile is the result of one support level of a suite.
type Profile struct {
	Result     Result     `json:"result,omitempty"`
	Statistics Statistics `json:"statistics"`
	// FailedFeatures and SkippedFeatures name the features behind the result.
	FailedFeatures  []string `json:"failedFeatures,omitempty"`
	SkippedFeatures []string `json:"skippedFeatures,omitempty"`
	// SupportedFeatures and UnsupportedFeatures: extended only, what the
	// implementation claimed and what it did not.
	SupportedFeatures   []string `json:"supportedFeatures,omitempty"`
	UnsupportedFeatures []string `json:"unsupportedFeatures,omitempty"`
}

// Statistics count the features of a profile by result.
type Statistics struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

// Feature is the result of one feature of a suite.
type Feature struct {
	Name    string `json:"name"`
	Support string `json:"support"`
	Result  Result `json:"result"`
	Message string `json:"message,omitempty"`
	// Unsupported: an extended feature the implementation did not claim.
	Unsupported bool `json:"unsupported,omitempty"`
}

// Check is a named assertion outside a matrix (a premise, a control).
type Check struct {
	Name string `json:"name"`
	// Feature is the feature that ran the check; empty for setup steps.
	Feature string `json:"feature,omitempty"`
	Result  Result `json:"result"`
	Message string `json:"message,omitempty"`
}

// Matrix is one probed matrix.
type Matrix struct {
	Name string `json:"name"`
	// Feature is the feature that probed the matrix.
	Feature         string  `json:"feature,omitempty"`
	Rounds          int     `json:"rounds"`
	DurationSeconds float64 `json:"durationSeconds"`
	Error           string  `json:"error,omitempty"`
	Cells           []Cell  `json:"cells"`
}

// Cell is one probed cell.
type Cell struct {
	Name            string  `json:"name"`
	Client          string  `json:"client"`
	Request         string  `json:"request"`
	Expected        string  `json:"expected"`
	Observed        string  `json:"observed"`
	Result          Result  `json:"result"`
	Attempts        int     `json:"attempts"`
	DurationSeconds float64 `json:"durationSeconds"`
	Note            string  `json:"note,omitempty"`
	Reason          string  `json:"reason,omitempty"`
	// EnvironmentErrors counts rounds the environment kept the cell from
	// being probed (an exec failed or was cut, the client pod was gone).
	// EnvironmentError marks a failure that comes only from them: no
	// verdict on the cluster's enforcement, neither allowed nor denied.
	EnvironmentErrors int            `json:"environmentErrors,omitempty"`
	EnvironmentError  bool           `json:"environmentError,omitempty"`
	Evidence          probe.Evidence `json:"evidence"`
}

// Recorder collects results from the features of a run; it is safe for
// concurrent use.
type Recorder struct {
	// Now stamps the report; tests set it for golden files.
	Now        func() time.Time
	mu         sync.Mutex
	env        Environment
	impl       Implementation
	provenance *Provenance
	suites     map[string]*Suite
	order      []string
	current    map[string]string // suite -> the feature running now
	secrets    []string
}

// NewRecorder starts a report; secrets are scrubbed from everything written.
func NewRecorder(env Environment, secrets ...string) *Recorder {
	return &Recorder{Now: time.Now, env: env, suites: map[string]*Suite{}, current: map[string]string{}, secrets: secrets}
}

// SetEnvironment updates what the run ran on (versions found after start).
// SetProvenance records what the run rests on.
func (r *Recorder) SetProvenance(p *Provenance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.provenance = p
}

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

// Timing records a control's times.
func (r *Recorder) Timing(suite string, t Timing) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Feature = r.current[suite]
	s := r.suite(suite)
	s.Timings = append(s.Timings, t)
}

// Finding records an observation that changes no result.
func (r *Recorder) Finding(suite string, f Finding) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f.Feature = r.current[suite]
	s := r.suite(suite)
	s.Findings = append(s.Findings, f)
}

// Skip records a check that did not run; the suite becomes partial.
func (r *Recorder) Skip(suite, name, why string) {
	r.add(suite, Check{Name: name, Result: Partial, Message: "skipped: " + why})
}

// Enter marks the start of a feature: the checks and matrices recorded
// until its result is recorded belong to it.
func (r *Recorder) Enter(suite, feature string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.current[suite] = feature
}

// Feature records the result of a feature (Success, Failure or Skipped).
func (r *Recorder) Feature(suite string, f Feature) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.suite(suite)
	s.Features = append(s.Features, f)
	if r.current[suite] == f.Name {
		delete(r.current, suite)
	}
}

func (r *Recorder) add(suite string, c Check) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.Feature = r.current[suite]
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
			EnvironmentErrors: c.EnvErrors, EnvironmentError: c.EnvironmentError,
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
	m.Feature = r.current[suite]
	s := r.suite(suite)
	s.Matrices = append(s.Matrices, m)
}

// Report assembles the report as it stands.
func (r *Recorder) Report() Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := Report{APIVersion: APIVersion, Kind: Kind, Date: r.Now().UTC().Truncate(time.Second), Implementation: r.impl, Environment: r.env, Provenance: r.provenance}
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
func profiles(s Suite) (Profile, *Profile) {
	core := Profile{Result: Success}
	var ext *Profile
	extended := map[string]bool{}
	for _, f := range s.Features {
		if f.Support == Extended {
			extended[f.Name] = true
		}
	}
	for _, f := range s.Features {
		p := &core
		if f.Support == Extended {
			if ext == nil {
				ext = &Profile{}
			}
			if f.Unsupported {
				ext.UnsupportedFeatures = append(ext.UnsupportedFeatures, f.Name)
				continue
			}
			ext.SupportedFeatures = append(ext.SupportedFeatures, f.Name)
			if ext.Result == "" {
				ext.Result = Success
			}
			p = ext
		}
		switch f.Result {
		case Success:
			p.Statistics.Passed++
		case Failure:
			p.Statistics.Failed++
			p.FailedFeatures = append(p.FailedFeatures, f.Name)
			p.Result = Failure
		default:
			p.Statistics.Skipped++
			p.SkippedFeatures = append(p.SkippedFeatures, f.Name)
			p.Result = worse(p.Result, Partial)
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
			core.Result = Failure
		}
		for _, c := range m.Cells {
			if c.Result != Success {
				core.Result = Failure
			}
		}
	}
	if core.Statistics.Passed == 0 {
		core.Result = worse(core.Result, Partial)
	}
	return core, ext
}

// worse orders results: failure, then partial, then success.
func worse(a, b Result) Result {
	rank := map[Result]int{Success: 0, Partial: 1, Skipped: 1, Failure: 2}
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
