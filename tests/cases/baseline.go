package cases

import (
	"time"

	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// BaselineClient is the baseline's curl client, outside any mesh.
var BaselineClient = matrix.Client{Name: "baseline", Namespace: "mc-baseline", Selector: "app=sleep", Container: "sleep"}

// Baseline checks the cluster's plain networking and the probe's
// classification on it: if these fail, no mesh verdict means anything.
func Baseline() matrix.Matrix {
	svc := "http://baseline-httpbin.mc-baseline.svc.cluster.local"
	return matrix.Matrix{Name: "baseline", Cells: []matrix.Cell{
		{Name: "dns-service-routing-exec-curl", Client: BaselineClient, Request: probe.Request{URL: svc + "/get"}, Expect: matrix.Expect(matrix.Allowed)},
		{Name: "unknown-service-is-dns-failure", Client: BaselineClient, Request: probe.Request{URL: "http://no-such-service.mc-baseline.svc.cluster.local/"},
			Expect: matrix.Expect(matrix.DNSFailure)},
		{Name: "service-without-endpoints-is-refused", Client: BaselineClient, Request: probe.Request{URL: "http://baseline-no-endpoints.mc-baseline.svc.cluster.local/"},
			Expect: matrix.Expect(matrix.Refused)},
		{Name: "slow-answer-is-timeout", Client: BaselineClient, Request: probe.Request{URL: svc + "/delay/10", Timeout: 2 * time.Second},
			Expect: matrix.Expect(matrix.TimedOut)},
	}}
}
