// Package failclosedsuite is a lab-only suite: the baseline's workloads and
// one fail-closed feature that scales the baseline's httpbin to zero and
// back while its cells are probed. The lab runs it as a real suite binary
// on the lab's cluster (--kubeconfig) and interrupts it while httpbin is
// gone, to show that the run's restorers put it back (tests/lab's
// TestInterruptMidDisruptionRestores). It lives under testdata so that
// `go test ./...` never runs it on its own.
package failclosedsuite

import (
	"context"
	"testing"

	"github.com/secure-inference/mesh-conformance/suites/baseline"
	"github.com/secure-inference/mesh-conformance/tests/disruption"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
)

// GoneMarker is logged once httpbin has no pod left: the moment the lab
// sends its signal.
const GoneMarker = "lab: httpbin is gone"

var suite = harness.Suite{
	Name:       "lab-fail-closed",
	Namespaces: []string{baseline.Client.Namespace},
	Setup:      func(r *harness.Run) []harness.Step { return []harness.Step{baseline.Workloads(r)} },
	Features: []harness.Feature{harness.FailClosed(harness.Feature{Name: "fail-closed"},
		func(r *harness.Run) []disruption.Disruption {
			d := disruption.ScaleToZero(r.Kube, "httpbin-to-zero", baseline.Client.Namespace, "httpbin", r.Opts.Timeouts.ReadyTimeout)
			gone := d.Gone
			d.Gone = func(ctx context.Context) error {
				err := gone(ctx)
				r.Logf("%s (%v)", GoneMarker, err)
				return err
			}
			return []disruption.Disruption{d}
		},
		func(*harness.Run) matrix.Matrix {
			cells := baseline.Matrix().Cells[:3] // routing, DNS failure, refused: no 10 s delay
			return matrix.Matrix{Name: "lab-fail-closed", Cells: cells}
		})},
}

func TestMain(m *testing.M) { harness.Main(m, &suite) }

func TestLabFailClosed(t *testing.T) { harness.Features(t, &suite) }
