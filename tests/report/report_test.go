package report

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite golden files")

const token = "hf_abcdefghijklmnopqrstuvwxyz0123"

func sample() *Recorder {
	r := NewRecorder(Environment{Cluster: "kind-mesh-conformance", KubernetesVersion: "v1.34.4", Mode: "sidecar",
		Versions: map[string]string{"istio": "1.27.1", "kserve": "v0.20.0"}}, token)
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
	r.Enter("kservemesh", "activator-premise")
	r.Check("kservemesh", "activator-premise", nil)
	r.Feature("kservemesh", Feature{Name: "activator-premise", Support: Core, Result: Success})
	r.Enter("kservemesh", "policy-control")
	r.Check("kservemesh", "policy-control", errors.New("with the AuthorizationPolicy removed the 403 cell stayed 403"))
	r.Feature("kservemesh", Feature{Name: "policy-control", Support: Core, Result: Failure})
	r.Check("opeaistio", "setup/gateway-certificate", nil)
	r.Enter("opeaistio", "gateway-certificate")
	r.Check("opeaistio", "certificate-san", nil)
	r.Feature("opeaistio", Feature{Name: "gateway-certificate", Support: Core, Result: Success})
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
	assert.Contains(t, string(data), Redacted)
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

func TestEmptyReportIsStillWritten(t *testing.T) {
	path, err := NewRecorder(Environment{Mode: "ambient"}).Write(filepath.Join(t.TempDir(), "new", "dir"))
	require.NoError(t, err)
	assert.FileExists(t, path)
}

func TestScrubIgnoresTinyValues(t *testing.T) {
	assert.Equal(t, "a b c", Scrub("a b c", "b"))
	assert.Equal(t, "x [REDACTED] y", Scrub("x s3cr3t y", "s3cr3t"))
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
	_, err = ok.Write(filepath.Join(dir, "job-2", "opeaistio"))
	require.NoError(t, err)
	table, failed, err := Summarize(dir)
	require.NoError(t, err)
	assert.True(t, failed, "a failed suite fails the summary")
	assert.Contains(t, table, "| kservemesh | sidecar | 1.27.1 | v1.34.4 | failure | 1/2/0 | - | default-to-sklearn-iris, policy-control, namespace-isolation |  | job-1/kservemesh/report.yaml |")
	assert.Contains(t, table, "| opeaistio | ambient | 1.27.1 | v1.34.4 | success | 1/0/0 | - |  |  | job-2/opeaistio/report.yaml |")

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
