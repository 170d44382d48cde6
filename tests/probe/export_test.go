package probe

// The local servers of this package's tests, for its external tests
// (package probe_test), which may import probetest: probetest imports
// probe, so a test in package probe cannot.
var (
	RequireCurl   = requireCurl
	ResetListener = resetListener
	ClosedPort    = closedPort
)
