// Package failclosedsuite is a lab-only suite: the baseline's workloads and
// one fail-closed feature that scales the baseline's httpbin to zero and
// back while its cells are probed. The lab runs it as a real suite binary
// on the lab's cluster (--kubeconfig) and interrupts it while httpbin is
// gone, to show that the run's restorers put it back (tests/lab's
// TestInterruptMidDisruptionRestores), and lets its deadline fire while
// httpbin is gone (TestDeadlineMidDisruptionStopsTheRunFirst). It lives under testdata so that
// `go test ./...` never runs it on its own.
package failclosedsuite

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/secure-inference/mesh-conformance/suites/baseline"
	"github.com/secure-inference/mesh-conformance/tests/disruption"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// GoneMarker is logged once httpbin has no pod left: the moment the lab
// sends its signal.
const GoneMarker = "lab: httpbin is gone"

var suite = harness.Suite{
	Name:       "lab-fail-closed",
	Namespaces: []string{baseline.Client.Namespace},
	Steps:      func(options.Options) []harness.Step { return []harness.Step{baseline.Workloads} },
	Features: []harness.Feature{harness.FailClosed(harness.Feature{Name: "fail-closed", Limit: understatedLimit()},
		func(e *harness.Env) []disruption.Disruption {
			d := disruption.ScaleToZero(e.Kube, "httpbin-to-zero", baseline.Client.Namespace, "httpbin", e.Opts.Timeouts.ReadyTimeout)
			gone := d.Gone
			d.Gone = func(ctx context.Context) error {
				err := gone(ctx)
				e.Logf("%s (%v)", GoneMarker, err)
				return err
			}
			return []disruption.Disruption{d}
		},
		func(options.Options) matrix.Matrix {
			cells := baseline.Matrix().Cells[:3] // routing, DNS failure, refused: no 10 s delay
			return matrix.Matrix{Name: "lab-fail-closed", Cells: cells}
		})},
}

// understatedLimit is the feature's time limit as MC_LAB_FEATURE_LIMIT
// states it (a Go duration), for the lab's deadline test: a run whose wait
// outlasts what its budget counted must stop itself before go test's
// -timeout fires. Unset: FailClosed's own limit.
func understatedLimit() func(options.Options) time.Duration {
	v := os.Getenv("MC_LAB_FEATURE_LIMIT")
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		panic("MC_LAB_FEATURE_LIMIT: " + err.Error())
	}
	return func(options.Options) time.Duration { return d }
}

// run is the suite's one run in this binary: TestMain starts it, the test
// runs its features.
var run = harness.NewRun(&suite)

func TestMain(m *testing.M) { run.Main(m) }

func TestLabFailClosed(t *testing.T) { run.Features(t) }
