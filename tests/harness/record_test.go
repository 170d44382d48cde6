package harness

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/report"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// A result recorded from a context that carries no feature's scope is a
// bug of the harness: it is kept, and the report says so with a failed
// check, instead of filing it silently under the setup.
func TestAResultOutsideAnyFeatureIsNotFiledSilently(t *testing.T) {
	r := &Run{Suite: "s", Opts: options.Defaults(), Report: report.NewRecorder(reportapi.Environment{})}
	r.scope(context.Background()).Check("late", errors.New("refused cell answered"))
	failed := map[string]bool{}
	for _, c := range r.Report.Report().Suites[0].Checks {
		failed[c.Name] = c.Result == reportapi.Failure
	}
	assert.True(t, failed["late"], "the result is kept")
	require.Contains(t, failed, "unscoped-result")
	assert.True(t, failed["unscoped-result"], "and a failed check says the harness misplaced it")

	// Inside a feature, nothing of the kind.
	r = &Run{Suite: "s", Opts: options.Defaults(), Report: report.NewRecorder(reportapi.Environment{})}
	scope := r.Report.Start("s", "f", reportapi.Core)
	r.scope(report.WithScope(context.Background(), scope)).Check("in-feature", nil)
	scope.Finish(reportapi.Success, "")
	for _, c := range r.Report.Report().Suites[0].Checks {
		assert.NotEqual(t, "unscoped-result", c.Name)
	}
}
