package harness

import (
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// The engine's results are converted to the report's types here, beside
// the code that runs the engine, so that the report API and its recorder
// import nothing of probes and matrices.

// ReportMatrix converts a matrix result to the report's matrix: a cell
// passes only if the matrix ran; a cell never probed is observed as "-".
func ReportMatrix(res matrix.Result) reportapi.Matrix {
	m := reportapi.Matrix{Name: res.Matrix, Rounds: res.Rounds, DurationSeconds: res.Duration.Seconds()}
	if res.Err != nil {
		m.Error = res.Err.Error()
	}
	for _, c := range res.Cells {
		cell := reportapi.Cell{
			Name: c.Name, Client: c.Client.Name, Request: c.Request.String(), Expected: c.Expect.String(),
			Observed: "-", Result: reportapi.Failure, Attempts: c.Attempts, DurationSeconds: c.Duration.Seconds(),
			Note: c.Expect.Note, Reason: c.Reason, Evidence: ReportEvidence(c.Last.Evidence),
			EnvironmentErrors: c.EnvErrors, EnvironmentError: c.EnvironmentError,
		}
		if c.Attempts > 0 {
			cell.Observed = c.Last.String()
		}
		if c.Passed && res.Err == nil {
			cell.Result = reportapi.Success
		}
		m.Cells = append(m.Cells, cell)
	}
	return m
}

// ReportEvidence copies curl's evidence field by field.
func ReportEvidence(e probe.Evidence) reportapi.Evidence {
	return reportapi.Evidence{ExitCode: e.ExitCode, ErrorMessage: e.ErrorMessage, RemoteIP: e.RemoteIP, RedirectURL: e.RedirectURL,
		SSLVerifyResult: e.SSLVerifyResult, TimeTotal: e.TimeTotal, TimeToFirstByte: e.TimeToFirstByte, Body: e.Body}
}
