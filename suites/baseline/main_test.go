// Package baseline is the preflight suite: it runs on any cluster, mesh or
// not, and checks what every other verdict rests on (DNS, Service routing,
// exec and curl from a client pod, and how refusals, DNS failures and
// timeouts look on this network). The mesh suites run it first too.
//
//	go test ./suites/baseline/ -args --kubeconfig=$HOME/.kube/config
package baseline

import (
	"os"
	"testing"

	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/preflight"
	"github.com/secure-inference/mesh-conformance/tests/versions"
)

var run *harness.Run

func TestMain(m *testing.M) {
	run = harness.Setup("baseline", versions.KServeMesh)
	run.Env.Setup(run.Step("baseline-workloads", preflight.Deploy(run)))
	os.Exit(run.Env.Run(m))
}

func TestBaseline(t *testing.T) {
	run.Test(t, preflight.Feature(run))
}
