//go:build lab

package lab

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/secure-inference/mesh-conformance/suites/kservemesh"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// benchTargets is N distinct requests to the stand-in from each of the
// KServe suite's two clients.
const benchTargets = 25

func benchMatrix(clients ...matrix.Client) matrix.Matrix {
	var cells []matrix.Cell
	for _, from := range clients {
		for i := 0; i < benchTargets; i++ {
			cells = append(cells, matrix.Cell{Name: fmt.Sprintf("%s-%d", from.Name, i), Client: from,
				Request: probe.Request{URL: fmt.Sprintf("http://sklearn-iris-burst-predictor.user1.svc.cluster.local/v1/models/m%d", i)},
				Expect:  matrix.Expect(matrix.Allowed)})
		}
	}
	return matrix.Matrix{Name: "bench", Cells: cells}
}

// BenchmarkMatrixRound: one round of 2 clients x 25 targets through the
// probe engine (one exec per client, clients in parallel), within a matrix
// run of b.N rounds.
func BenchmarkMatrixRound(b *testing.B) {
	benchRound(b, benchMatrix(kservemesh.ClientUser1, kservemesh.ClientDefault))
}

// BenchmarkMatrixRoundOneClient: the same with one client, to tell the cost
// of one exec of 25 requests from that of two execs at once on the node.
func BenchmarkMatrixRoundOneClient(b *testing.B) {
	benchRound(b, benchMatrix(kservemesh.ClientUser1))
}

func benchRound(b *testing.B, m matrix.Matrix) {
	// Warm up: right after the workloads start, the first requests can fail
	// while Service rules are programmed; the suites converge through it.
	if res := matrix.Run(context.Background(), m, exec_, resolve, labSettings()); !res.Passed() {
		b.Fatal(res.Table())
	}
	// b.N rounds of one matrix run: each round after the first finds the
	// clients' pods known (as in a suite's matrix), and a clean round is
	// followed by the next at once; so ns/op is one round.
	s := labSettings()
	s.RequiredConsecutiveSuccesses = b.N
	s.MaxTimeToConsistency = time.Duration(b.N) * time.Minute
	b.ResetTimer()
	if res := matrix.Run(context.Background(), m, exec_, resolve, s); !res.Passed() || res.Rounds != b.N {
		b.Fatal(res.Table())
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/float64(len(m.Cells)), "ms/request")
}

// BenchmarkBareExec is the floor: one exec running one curl.
func BenchmarkBareExec(b *testing.B) {
	pod, err := resolve(context.Background(), kservemesh.ClientUser1)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		out, err := probe.Run(context.Background(), exec_, pod,
			[]probe.Request{{URL: "http://sklearn-iris-burst-predictor.user1.svc.cluster.local/v1/models/m"}}, 5*time.Second)
		if err != nil || out[0].Kind != probe.KindHTTP {
			b.Fatal(err, out)
		}
	}
}
