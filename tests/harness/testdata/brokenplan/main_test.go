//go:build e2e

// Package brokenplan is a suite whose control names a policy its fixture
// does not have, a declaration error: the harness's
// TestADryRunWithPlanErrorsExitsOne builds it and runs it with --dry-run.
// It lives under testdata so that `go test ./...` never builds it on its
// own.
package brokenplan

import (
	"testing"

	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

var suite = harness.Suite{Name: "broken-plan", Features: []harness.Feature{
	harness.Control(harness.Feature{Name: "strict-control"},
		[]harness.PolicyFixture{{File: "kservemesh/auth.yaml", Kind: "PeerAuthentication", Name: "absent"}},
		func(options.Options) matrix.Matrix { return matrix.Matrix{Name: "without"} },
		func(options.Options) matrix.Matrix { return matrix.Matrix{Name: "restored"} }),
}}

var run = harness.NewRun(&suite)

func TestMain(m *testing.M) { run.Main(m) }

func TestBrokenPlan(t *testing.T) { run.Features(t) }
