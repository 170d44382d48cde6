package harness

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/bypass"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// The informational answers become findings that say whether they name a
// model; the rows become one attack-surface table per workload.
func TestBypassFindingsAndSurfaces(t *testing.T) {
	plaintext := bypass.Port{Number: 15090, Container: bypass.IstioProxy, Purpose: "Envoy Prometheus telemetry", Informational: true,
		Path: "/stats/prometheus", Source: bypass.PlaintextPortsSource}
	app := bypass.Port{Number: 8080, Container: "kserve-container", Purpose: "user-port", App: true, Declared: true, Source: "pod spec"}
	iris := bypass.Target{Workload: "sklearn-iris", Namespace: "user1", Models: []string{"sklearn-iris"}}
	httpbin := bypass.Target{Workload: "httpbin", Namespace: "user1"}
	plan := bypass.Build("b", []bypass.TargetPods{
		{Target: iris, Pods: []bypass.Pod{{Name: "p1", IP: "10.0.0.1", Ports: []bypass.Port{app, plaintext}}}},
		{Target: httpbin, Pods: []bypass.Pod{{Name: "h1", IP: "10.0.0.2", Ports: []bypass.Port{plaintext}}}},
	}, []matrix.Client{{Name: "default"}})
	run := func(m matrix.Matrix, o probe.Outcome) matrix.Result {
		res := matrix.Result{Matrix: m.Name}
		for _, c := range m.Cells {
			ok, why := c.Expect.Match(o)
			res.Cells = append(res.Cells, matrix.CellResult{Cell: c, Attempts: 1, Last: o, Passed: ok, Reason: why})
		}
		return res
	}
	info := run(plan.Informational, probe.Outcome{Kind: probe.KindHTTP, HTTPCode: 200, Found: []string{"sklearn-iris"}})
	enforced := run(plan.Enforced, probe.Outcome{Kind: probe.KindReset, Evidence: probe.Evidence{ExitCode: 56}})

	fs := BypassFindings("bypass-paths", plan, info)
	require.Len(t, fs, 2)
	assert.Equal(t, "bypass-paths/default-to-sklearn-iris-15090", fs[0].Name)
	assert.Equal(t, "HTTP 200; names sklearn-iris", fs[0].Observed)
	assert.Contains(t, fs[0].Note, "source: "+bypass.PlaintextPortsSource)
	assert.Equal(t, "HTTP 200; no protected names to look for", fs[1].Observed, "httpbin protects no model")
	assert.NoError(t, informationalErr(info))

	surfaces := AttackSurfaces(plan.Surface(enforced, info))
	require.Len(t, surfaces, 2)
	assert.Equal(t, "sklearn-iris", surfaces[0].Workload)
	require.Len(t, surfaces[0].Rows, 2, "8080 (no model path set: / only) and 15090")
	assert.Equal(t, reportapi.SurfaceRefused, surfaces[0].Rows[0].Verdict)
	assert.Equal(t, reportapi.SurfaceInformational, surfaces[0].Rows[1].Verdict)
	assert.Equal(t, []string{"sklearn-iris"}, surfaces[0].Rows[1].Reveals)
	assert.Equal(t, "httpbin", surfaces[1].Workload)
}
