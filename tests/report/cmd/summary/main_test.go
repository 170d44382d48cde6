package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/report"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

func summary(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func write(t *testing.T, dir string, result reportapi.Result) {
	t.Helper()
	r := report.NewRecorder(reportapi.Environment{Mode: "ambient", KubernetesVersion: "v1.34.4", Versions: map[string]string{"istio": "1.27.1"}})
	r.Feature("opeaistio", reportapi.Feature{Name: "ingress-and-mtls", Support: reportapi.Core, Result: result})
	_, err := r.Write(dir)
	require.NoError(t, err)
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "job-1"), reportapi.Success)
	code, out, _ := summary(dir)
	assert.Equal(t, 0, code, "a green night exits 0")
	assert.Contains(t, out, "| opeaistio | ambient | 1.27.1 | v1.34.4 | success |")

	write(t, filepath.Join(dir, "job-2"), reportapi.Failure)
	code, out, _ = summary(dir)
	assert.Equal(t, 1, code, "one failed suite fails the night")
	assert.Contains(t, out, "| failure | 0/1/0 | - | ingress-and-mtls |")

	code, out, _ = summary(t.TempDir())
	assert.Equal(t, 1, code, "no report is not a green night")
	assert.Contains(t, out, "no reports found")
}

func TestBadInput(t *testing.T) {
	code, _, errOut := summary()
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "usage: summary DIR")

	code, _, errOut = summary("/nonexistent/artifacts")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "/nonexistent/artifacts is not a directory of reports")

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, report.FileName), []byte("apiVersion: mesh-conformance.secure-inference.io/v0\nkind: ConformanceReport\n"), 0o644))
	code, _, errOut = summary(dir)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `report version "mesh-conformance.secure-inference.io/v0"`)
}
