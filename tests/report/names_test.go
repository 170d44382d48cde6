package report

import reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"

// Short names for the tests of this package, which use the API's types
// throughout.
type (
	Environment    = reportapi.Environment
	Implementation = reportapi.Implementation
	Feature        = reportapi.Feature
	Suite          = reportapi.Suite
	Statistics     = reportapi.Statistics
	Report         = reportapi.Report
)

const (
	Success    = reportapi.Success
	Partial    = reportapi.Partial
	Failure    = reportapi.Failure
	Skipped    = reportapi.Skipped
	Core       = reportapi.Core
	Extended   = reportapi.Extended
	APIVersion = reportapi.APIVersion
	Kind       = reportapi.Kind
)
