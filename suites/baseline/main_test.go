//go:build e2e

// The suite's run, built with the e2e tag: go test ./... runs the
// package's unit tests only and touches no cluster; go test -tags e2e
// runs the suite (its plan with --dry-run).

package baseline

import (
	"testing"

	"github.com/secure-inference/mesh-conformance/tests/harness"
)

func TestMain(m *testing.M) { harness.Main(m, &Suite) }

func TestBaseline(t *testing.T) { harness.Features(t, &Suite) }
