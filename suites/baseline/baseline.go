// Package baseline is the preflight suite: it runs on any cluster, mesh or
// not, and checks what every other verdict rests on (DNS, Service routing,
// exec and curl from a client pod, and how refusals, DNS failures and
// timeouts look on this network). The mesh suites run its step and its
// feature first; when it fails, their verdicts would mean nothing, and the
// run says so.
//
//	go test -tags e2e -v -timeout 30m ./suites/baseline/ -args --kubeconfig=$HOME/.kube/config
package baseline

import (
	"context"
	"time"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	"github.com/secure-inference/mesh-conformance/tests/ready"
	"github.com/secure-inference/mesh-conformance/tests/versions"
)

// Suite is the baseline on its own: no mesh, kind's default node.
var Suite = harness.Suite{
	Name:       "baseline",
	Versions:   versions.Set{NodeImage: versions.NodeImage134},
	Namespaces: []string{Client.Namespace},
	Steps:      func(options.Options) []harness.Step { return []harness.Step{Workloads} },
	Features:   []harness.Feature{Feature},
}

// Fixture holds the baseline workloads.
const Fixture = "baseline/workloads.yaml"

// Workloads is the setup step that applies the baseline workloads and
// waits for them.
var Workloads = harness.Step{Name: "baseline-workloads", Run: func(ctx context.Context, e *harness.Env) error {
	if err := fixtures.Apply(ctx, e.Apply, Fixture); err != nil {
		return err
	}
	return ready.Deployments(ctx, e.Kube, Client.Namespace, "", e.Opts.Timeouts.ReadyTimeout)
}}

// Feature runs the baseline matrix; a baseline's failure marks the run so
// that every later matrix says its verdict means nothing.
var Feature = harness.Feature{
	Name: "baseline", Kind: harness.KindBaseline, Manifests: []string{Fixture},
	Matrices: harness.Fixed(Matrix()),
}

// Client is the baseline's curl client, outside any mesh.
var Client = matrix.Client{Name: "baseline", Namespace: "mc-baseline", Selector: "app=sleep", Container: "sleep"}

// Matrix checks the cluster's plain networking and the probe's
// classification on it: if these fail, no mesh verdict means anything.
func Matrix() matrix.Matrix {
	svc := "http://baseline-httpbin.mc-baseline.svc.cluster.local"
	return matrix.Matrix{Name: "baseline", Cells: []matrix.Cell{
		{Name: "dns-service-routing-exec-curl", Client: Client, Request: probe.Request{URL: svc + "/get"}, Expect: matrix.Expect(matrix.Allowed)},
		{Name: "unknown-service-is-dns-failure", Client: Client, Request: probe.Request{URL: "http://no-such-service.mc-baseline.svc.cluster.local/"},
			Expect: matrix.Expect(matrix.DNSFailure)},
		{Name: "service-without-endpoints-is-refused", Client: Client, Request: probe.Request{URL: "http://baseline-no-endpoints.mc-baseline.svc.cluster.local/"},
			Expect: matrix.Expect(matrix.ConnectionRefused)},
		{Name: "slow-answer-is-timeout", Client: Client, Request: probe.Request{URL: svc + "/delay/10", Timeout: 2 * time.Second},
			Expect: matrix.Expect(matrix.TimedOut)},
	}}
}
