//go:build e2e

// The suite's run, built with the e2e tag: go test ./... runs the
// package's unit tests only and touches no cluster; go test -tags e2e
// runs the suite (its plan with --dry-run).

package kserveambient

import (
	"testing"

	"github.com/secure-inference/mesh-conformance/tests/harness"
)

// run is the suite's one run in this binary: TestMain starts it, the test
// runs its features.
var run = harness.NewRun(&Suite)

func TestMain(m *testing.M) { run.Main(m) }

func TestKServeAmbient(t *testing.T) { run.Features(t) }
