package report

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/secure-inference/mesh-conformance/tests/redact"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite golden files")

const token = "hf_abcdefghijklmnopqrstuvwxyz0123"

func sample() *Recorder {
	r := NewRecorder(Environment{Cluster: "kind-mesh-conformance", KubernetesVersion: "v1.34.4", Mode: "sidecar",
		Versions: map[string]string{"istio": "1.27.1", "kserve": "v0.20.0"},
		Sources:  map[string]reportapi.ComponentSource{"istio": reportapi.Found, "kserve": reportapi.Installed}}).WithRedactor(redact.New(token))
	r.Now = func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }
	r.SetImplementation(Implementation{Organization: "example", Project: "example-k8s", URL: "https://example.invalid", Version: "v1.2.3", Contact: "@example"})
	url := "GET http://sklearn-iris-predictor.user1.svc.cluster.local/v1/models/sklearn-iris"
	r.Matrix("kservemesh", reportapi.Matrix{Name: "namespace-isolation", Rounds: 4, DurationSeconds: 3.5, Cells: []reportapi.Cell{
		{Name: "user1-to-sklearn-iris", Client: "user1", Request: url, Expected: "allowed (2xx)", Observed: "HTTP 200", Result: Success,
			Attempts: 3, DurationSeconds: 2, Evidence: reportapi.Evidence{Body: `{"name":"sklearn-iris","ready":true}`}},
		{Name: "default-to-sklearn-iris", Client: "default", Request: url, Expected: `denied (HTTP 403), body has "RBAC: access denied"`,
			Observed: "HTTP 200", Result: Failure, Attempts: 4, DurationSeconds: 3.5, Reason: "expected denied (HTTP 403), observed HTTP 200",
			// A body echoing the token must not leak it.
			Evidence: reportapi.Evidence{Body: "echo: Bearer " + token}},
	}})
	r.Feature("kservemesh", Feature{Name: "namespace-isolation", Support: Core, Result: Failure})
	// Through the setup scope, so that the golden file changes by this
	// field alone.
	r.Setup("kservemesh").AttackSurface(reportapi.AttackSurface{Workload: "sklearn-iris", Namespace: "user1", Rows: []reportapi.SurfaceRow{
		{Pod: "sklearn-iris-predictor-00001-deployment-abc", PodIP: "10.244.0.17", Port: 8080, Container: "kserve-container", Purpose: "user-port",
			Source: "pod spec", From: "default", Request: "GET http://10.244.0.17:8080/v1/models/sklearn-iris", Observed: "connection-reset (curl 56)",
			Verdict: reportapi.SurfaceRefused},
		{Pod: "sklearn-iris-predictor-00001-deployment-abc", PodIP: "10.244.0.17", Port: 15090, Container: "istio-proxy", Purpose: "http-envoy-prom (Envoy Prometheus telemetry)",
			Source: "pod spec", From: "default", Request: "GET http://10.244.0.17:15090/stats/prometheus", Observed: "HTTP 200",
			Verdict: reportapi.SurfaceInformational, Reveals: []string{"sklearn-iris"}},
	}})
	// A disruption with a breach (its body echoing the token) and an
	// allowed cell that was down and recovered.
	r.Setup("kservemesh").Disruption(reportapi.Disruption{Name: "istiod", What: "Deployment istio-system/istiod scaled to zero, then back",
		Matrix: "kserve-fail-closed", Rounds: 12, RoundsByPhase: map[string]int{"before": 1, "taking": 3, "taken": 3, "restoring": 2, "after": 3},
		ResolutionSeconds: 1, RecoveryLimitSeconds: 60, TakenAtSeconds: 1.2, GoneAtSeconds: 4.5, RestoredAtSeconds: 10.5,
		Breaches: []reportapi.Breach{{Round: 5, Phase: "taken", AtSeconds: 6, Cell: "default-to-sklearn-iris-status", Client: "default", Request: url,
			Observed: "HTTP 200", Evidence: reportapi.Evidence{Body: "echo: Bearer " + token}}},
		Allowed: []reportapi.DisruptedAllowed{{Cell: "user1-to-sklearn-iris-status", Down: true, DownRounds: 4, DownAt: 5, DowntimeSeconds: 6.5,
			Recovered: true, RecoveredAfterSeconds: 1}},
		Restored: true, Result: Failure})
	premise := r.Start("kservemesh", "activator-premise", Core)
	premise.Check("activator-premise", nil)
	premise.Finish(Success, "")
	control := r.Start("kservemesh", "policy-control", Core)
	control.Check("policy-control", errors.New("with the AuthorizationPolicy removed the 403 cell stayed 403"))
	control.Finish(Failure, "")
	r.Check("opeaistio", "setup/gateway-certificate", nil)
	cert := r.Start("opeaistio", "gateway-certificate", Core)
	cert.Check("certificate-san", nil)
	cert.Finish(Success, "")
	r.Feature("opeaistio", Feature{Name: "cleanup", Support: Core, Result: Skipped, Message: "exempt (--exempt-features)"})
	r.Feature("opeaistio", Feature{Name: "host-tls-ingress", Support: Extended, Result: Skipped, Unsupported: true,
		Message: "not claimed: pass --supported-features=host-tls-ingress to run it"})
	return r
}

func TestGolden(t *testing.T) {
	dir := t.TempDir()
	path, err := sample().Write(dir)
	require.NoError(t, err)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	golden := filepath.Join("testdata", "report.golden.yaml")
	if *update {
		require.NoError(t, os.WriteFile(golden, got, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test ./tests/report -update to create it")
	assert.Equal(t, string(want), string(got))
}

func TestReportHeaderResultsAndSecrets(t *testing.T) {
	data, err := sample().Marshal()
	require.NoError(t, err)
	assert.NotContains(t, string(data), token, "a secret must never reach the report")
	assert.Contains(t, string(data), redact.Redacted)
	var rep Report
	require.NoError(t, yaml.UnmarshalStrict(data, &rep))
	assert.Equal(t, APIVersion, rep.APIVersion)
	assert.Equal(t, Kind, rep.Kind)
	require.Len(t, rep.Suites, 2)
	assert.Equal(t, Failure, rep.Suites[0].Result, "a failing cell or check fails the suite")
	assert.Equal(t, Partial, rep.Suites[1].Result, "a skipped core feature makes the suite partial, never success")
	assert.Equal(t, Statistics{Passed: 1, Skipped: 1}, rep.Suites[1].Core.Statistics)
	assert.Equal(t, []string{"host-tls-ingress"}, rep.Suites[1].Extended.UnsupportedFeatures)
	assert.Equal(t, "policy-control", rep.Suites[0].Checks[1].Feature, "a check belongs to the feature that ran it")
}

func TestProfiles(t *testing.T) {
	suite := func(fs ...Feature) Suite {
		r := NewRecorder(Environment{})
		for _, f := range fs {
			r.Feature("s", f)
		}
		return r.Report().Suites[0]
	}
	ok := Feature{Name: "a", Support: Core, Result: Success}
	assert.Equal(t, Success, suite(ok).Result)
	assert.Equal(t, Partial, suite(Feature{Name: "a", Support: Core, Result: Skipped}).Result, "nothing passed proves nothing")
	s := suite(ok, Feature{Name: "x", Support: Extended, Result: Failure})
	assert.Equal(t, Success, s.Core.Result)
	assert.Equal(t, Failure, s.Extended.Result)
	assert.Equal(t, Failure, s.Result, "a claimed extended feature that fails fails the suite")
	assert.Equal(t, Success, suite(ok, Feature{Name: "x", Support: Extended, Result: Skipped, Unsupported: true}).Result,
		"an unclaimed extended feature changes no result")
}

// Each feature records through its own scope, so that two features running
// at once (e2e-framework's --parallel) never take each other's results: no
// "current feature" of a suite is kept anywhere.
func TestScopesKeepTheirFeatures(t *testing.T) {
	r := NewRecorder(Environment{})
	a, b := r.Start("s", "a", Core), r.Start("s", "b", Extended)
	b.Check("b-check", nil)
	a.Check("a-check", errors.New("refused"))
	a.Matrix(reportapi.Matrix{Name: "a-matrix"})
	b.Finding(reportapi.Finding{Name: "b-finding"})
	a.Timing(reportapi.Timing{Control: "a-control"})
	r.Check("s", "setup/x", nil)
	assert.True(t, a.Finish(Failure, ""))
	assert.True(t, b.Finish(Success, ""))
	assert.False(t, b.Finish(Failure, "late"), "the first result recorded is the feature's")

	s := r.Report().Suites[0]
	owner := map[string]string{}
	for _, c := range s.Checks {
		owner[c.Name] = c.Feature
	}
	assert.Equal(t, map[string]string{"b-check": "b", "a-check": "a", "setup/x": ""}, owner)
	assert.Equal(t, "a", s.Matrices[0].Feature)
	assert.Equal(t, "b", s.Findings[0].Feature)
	assert.Equal(t, "a", s.Timings[0].Feature)
	assert.Equal(t, []Feature{{Name: "a", Support: Core, Result: Failure}, {Name: "b", Support: Extended, Result: Success}}, s.Features)
}

func TestScopeTravelsInTheContext(t *testing.T) {
	r := NewRecorder(Environment{})
	assert.Nil(t, ScopeOf(context.Background()), "outside a feature there is no scope")
	f := r.Start("s", "f", Core)
	assert.Same(t, f, ScopeOf(WithScope(context.Background(), f)))
	assert.False(t, r.Setup("s").Finish(Success, ""), "a suite's setup has no result of its own")
}

// A report written while a feature runs (Ctrl-C) lists it as skipped, not
// as passed, and not at all missing: its checks so far are in the report.
func TestUnfinishedFeatureIsSkipped(t *testing.T) {
	r := NewRecorder(Environment{})
	r.Start("s", "done", Core).Finish(Success, "")
	running := r.Start("s", "running", Core)
	running.Check("so-far", nil)
	s := r.Report().Suites[0]
	require.Len(t, s.Features, 2)
	assert.Equal(t, Skipped, s.Features[1].Result)
	assert.Contains(t, s.Features[1].Message, "did not finish")
	assert.Equal(t, Partial, s.Result)
	running.Finish(Success, "")
	s = r.Report().Suites[0]
	assert.Equal(t, Success, s.Result, "finished, the feature's own result counts")
	assert.Len(t, s.Features, 2, "listed once")
}

// One source of verdicts: a feature's result is what the profiles count;
// its checks and cells are evidence, not a second vote. What no feature
// owns (a setup step) counts in core by itself.
func TestProfilesCountFeatureResultsNotTheirChecks(t *testing.T) {
	r := NewRecorder(Environment{})
	core := r.Start("s", "core-feature", Core)
	core.Check("raw-failure", errors.New("evidence only"))
	core.Matrix(reportapi.Matrix{Name: "m", Cells: []reportapi.Cell{{Name: "c", Result: Failure}}})
	core.Finish(Success, "")
	s := r.Report().Suites[0]
	assert.Equal(t, Success, s.Core.Result, "the feature decided; its raw checks do not override it")
	assert.Equal(t, Statistics{Passed: 1}, s.Core.Statistics)

	r.Check("s", "setup/install", errors.New("helm failed"))
	assert.Equal(t, Failure, r.Report().Suites[0].Result, "a failed setup step fails the suite")

	r = NewRecorder(Environment{})
	r.Start("s", "core-feature", Core).Finish(Success, "")
	r.Matrix("s", reportapi.Matrix{Name: "lab", Cells: []reportapi.Cell{{Name: "c", Result: Failure}}})
	assert.Equal(t, Failure, r.Report().Suites[0].Result, "a failed cell of a matrix no feature owns fails the suite")
}

func TestEmptyReportIsStillWritten(t *testing.T) {
	path, err := NewRecorder(Environment{Mode: "ambient"}).Write(filepath.Join(t.TempDir(), "new", "dir"))
	require.NoError(t, err)
	assert.FileExists(t, path)
}

func TestJUnitGolden(t *testing.T) {
	dir := t.TempDir()
	path, err := sample().WriteJUnit(dir)
	require.NoError(t, err)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.NotContains(t, string(got), token)
	golden := filepath.Join("testdata", "junit.golden.xml")
	if *update {
		require.NoError(t, os.WriteFile(golden, got, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test ./tests/report -update to create it")
	assert.Equal(t, string(want), string(got))
}

func TestSummarize(t *testing.T) {
	dir := t.TempDir()
	_, err := sample().Write(filepath.Join(dir, "job-1", "kservemesh"))
	require.NoError(t, err)
	ok := NewRecorder(Environment{Mode: "ambient", KubernetesVersion: "v1.34.4", Versions: map[string]string{"istio": "1.27.1"}})
	ok.Check("opeaistio", "gateway-certificate/san", nil)
	ok.Feature("opeaistio", Feature{Name: "gateway-certificate", Support: Core, Result: Success})
	ok.Setup("opeaistio").Timing(reportapi.Timing{Control: "peer-authentication", OpenSeconds: []float64{2.1, 3.4, 2.6},
		RevokeSeconds: []float64{1.2, 4.8, 1.9}, MedianOpen: 2.6, MaxOpen: 3.4, MedianRevoke: 1.9, MaxRevoke: 4.8, ResolutionSeconds: 1})
	restart := ok.Start("opeaistio", "restart-isolation", Core)
	restart.Finding(reportapi.Finding{Name: "restart-isolation/pod-restart/user2-to-model-round-7",
		Observed: "HTTP 200 in round 7 (path: model-00001: Serve, activator endpoints True)", Seconds: map[string]float64{"window": 3.04, "at": 12.5}})
	restart.Finish(Success, "")
	_, err = ok.Write(filepath.Join(dir, "job-2", "opeaistio"))
	require.NoError(t, err)
	table, failed, err := Summarize(dir)
	require.NoError(t, err)
	assert.True(t, failed, "a failed suite fails the summary")
	assert.Contains(t, table, "| kservemesh | sidecar | 1.27.1 (found) | v1.34.4 | failure | 1/2/0 | - | default-to-sklearn-iris, policy-control, namespace-isolation |  | job-1/kservemesh/report.yaml |")
	assert.Contains(t, table, "| opeaistio | ambient | 1.27.1 | v1.34.4 | success | 2/0/0 | - |  |  | job-2/opeaistio/report.yaml |")
	// The security evidence, per suite, below the table.
	assert.Contains(t, table, "### kservemesh (sidecar), job-1/kservemesh/report.yaml\n")
	assert.Contains(t, table, "| istiod | failure | 1 | 6.5 | true |\n", "the breach and the allowed cell's downtime")
	assert.Contains(t, table, "| user1/sklearn-iris | 2 | 1 | 0 | 0 | 1 | 0 |\n", "one port refused, one informational")
	assert.Contains(t, table, "### opeaistio (ambient), job-2/opeaistio/report.yaml\n")
	assert.Contains(t, table, "| peer-authentication | 2.6 / 3.4 | 1.9 / 4.8 | 3 | 1 | - |\n")
	assert.Contains(t, table, "| restart-isolation/pod-restart/user2-to-model-round-7 | restart-isolation | HTTP 200 in round 7 (path: model-00001: Serve, activator endpoints True) | at=12.5 window=3.0 |\n",
		"a finding: what a refused caller got while its model restarted")
	assert.NotContains(t, table, token)

	_, failed, err = Summarize(t.TempDir())
	require.NoError(t, err)
	assert.True(t, failed, "no report at all is a failure, not a green night")
}

func TestStats(t *testing.T) {
	m, max := Stats([]float64{3, 1, 2})
	assert.Equal(t, 2.0, m)
	assert.Equal(t, 3.0, max)
	m, max = Stats([]float64{4, 1, 3, 2})
	assert.Equal(t, 2.5, m)
	assert.Equal(t, 4.0, max)
	m, max = Stats(nil)
	assert.Zero(t, m)
	assert.Zero(t, max)
}

// A suite with two setup profiles gets the cells they disagree on side by
// side: each profile's expectation and what this run observed. A hardened
// run whose burst cell answered 200 shows the difference failing; a
// documented run shows the hardened expectation beside its own 200.
func TestSummarizePutsTheProfilesSideBySide(t *testing.T) {
	url := "GET http://sklearn-iris-burst-predictor.user1.svc.cluster.local/v1/models/sklearn-iris-burst"
	allowed, denied := `allowed (2xx), body has "\"ready\":true"`, `denied (HTTP 403), body has "RBAC: access denied"`
	diff := []reportapi.ProfileCell{{Matrix: "kserve-isolation", Cell: "user2-to-sklearn-iris-burst-status", Client: "user2", Request: url,
		Expected: map[string]string{"documented": allowed, "hardened": denied}}}
	dir := t.TempDir()
	for _, run := range []struct {
		profile, expected string
		result            reportapi.Result
	}{{"hardened", denied, Failure}, {"documented", allowed, Success}} {
		r := NewRecorder(Environment{Mode: "sidecar", Profile: run.profile})
		r.SetProfileCells("kservemesh", diff)
		s := r.Start("kservemesh", "namespace-isolation", Core)
		s.Matrix(reportapi.Matrix{Name: "kserve-isolation", Cells: []reportapi.Cell{{Name: "user2-to-sklearn-iris-burst-status", Client: "user2",
			Request: url, Expected: run.expected, Observed: "HTTP 200", Result: run.result}}})
		s.Finish(run.result, "")
		_, err := r.Write(filepath.Join(dir, run.profile))
		require.NoError(t, err)
	}
	table, _, err := Summarize(dir)
	require.NoError(t, err)
	header := "| cell | from | expected, documented | expected, hardened | observed (%s) | result |\n"
	row := "| kserve-isolation/user2-to-sklearn-iris-burst-status | user2 | allowed (2xx), body has \"\\\"ready\\\":true\" | " +
		"denied (HTTP 403), body has \"RBAC: access denied\" | HTTP 200 | %s |\n"
	for _, run := range []struct{ profile, result string }{{"hardened", "failure"}, {"documented", "success"}} {
		assert.Contains(t, table, "(this run: "+run.profile+")")
		assert.Contains(t, table, fmt.Sprintf(header, run.profile))
		assert.Contains(t, table, fmt.Sprintf(row, run.result), "the %s run", run.profile)
	}

	// A cell the run did not probe says so; a suite with one setup has no
	// such table.
	r := NewRecorder(Environment{Mode: "sidecar", Profile: "hardened"})
	r.SetProfileCells("kservemesh", diff)
	r.Feature("kservemesh", Feature{Name: "namespace-isolation", Support: Core, Result: Skipped})
	one := t.TempDir()
	_, err = r.Write(one)
	require.NoError(t, err)
	table, _, err = Summarize(one)
	require.NoError(t, err)
	assert.Contains(t, table, "denied (HTTP 403), body has \"RBAC: access denied\" | - | not run |\n")
	noProfiles := t.TempDir()
	_, err = sample().Write(noProfiles)
	require.NoError(t, err)
	table, _, err = Summarize(noProfiles)
	require.NoError(t, err)
	assert.NotContains(t, table, "setup profiles")
}

// A run of a document as written is listed apart and fails nothing, even
// when its suite failed: its results are findings about the document.
func TestSummarizeKeepsTheDocumentsAsWrittenApart(t *testing.T) {
	dir := t.TempDir()
	for _, run := range []struct {
		name      string
		asWritten bool
		result    reportapi.Result
	}{{"corrected", false, Success}, {"as-written", true, Failure}} {
		r := NewRecorder(Environment{Mode: "ambient", AsWritten: run.asWritten})
		r.Feature("opeaistio", Feature{Name: "ingress-and-mtls", Support: Core, Result: run.result})
		_, err := r.Write(filepath.Join(dir, run.name))
		require.NoError(t, err)
	}
	table, failed, err := Summarize(dir)
	require.NoError(t, err)
	assert.False(t, failed, "a document found wrong as written fails nothing")
	parts := strings.SplitN(table, "The documents as written", 2)
	require.Len(t, parts, 2, table)
	assert.Contains(t, parts[0], "| success | 1/0/0 | - |  |  | corrected/report.yaml |")
	assert.NotContains(t, parts[0], "as-written/report.yaml")
	assert.Contains(t, parts[1], "| failure | 0/1/0 | - | ingress-and-mtls |  | as-written/report.yaml |")

	// Without a conformance report there is no verdict: the summary fails.
	only := t.TempDir()
	r := NewRecorder(Environment{Mode: "ambient", AsWritten: true})
	r.Feature("opeaistio", Feature{Name: "ingress-and-mtls", Support: Core, Result: Success})
	_, err = r.Write(only)
	require.NoError(t, err)
	_, failed, err = Summarize(only)
	require.NoError(t, err)
	assert.True(t, failed, "findings about a document are no conformance verdict")
}
