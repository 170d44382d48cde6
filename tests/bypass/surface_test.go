package bypass

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// Each cell's result becomes a row: a passed refusal is refused; the
// workload's answer is REACHABLE; a refusal that names the model failed;
// an environment error is not observed; an informational answer records
// whether its body names a model (whole body searched, or only the
// excerpt).
func TestSurfaceAndReveal(t *testing.T) {
	target := Target{Workload: "sklearn-iris", Namespace: "user1", Models: []string{"sklearn-iris"}}
	port := func(n int32, info bool) Port {
		return Port{Number: n, Container: "c", Purpose: "p", Informational: info, Path: "/stats/prometheus"}
	}
	p := Build("b", []TargetPods{{Target: target, Pods: []Pod{{Name: "pod", IP: "10.0.0.1",
		Ports: []Port{port(15006, false), port(8080, false), port(8012, false), port(9091, false), port(15090, true), port(15021, true)}}}}},
		[]matrix.Client{{Name: "default"}})
	http := func(code int, body string, found ...string) probe.Outcome {
		return probe.Outcome{Kind: probe.KindHTTP, HTTPCode: code, Found: found, Evidence: probe.Evidence{Body: body}}
	}
	result := func(m matrix.Matrix, outs map[string]probe.Outcome, env map[string]bool) matrix.Result {
		res := matrix.Result{Matrix: m.Name}
		for _, c := range m.Cells {
			cr := matrix.CellResult{Cell: c}
			if env[c.Name] {
				cr.EnvironmentError, cr.Reason = true, "environment error"
			} else {
				cr.Attempts, cr.Last = 3, outs[c.Name]
				cr.Passed, cr.Reason = c.Expect.Match(cr.Last)
			}
			res.Cells = append(res.Cells, cr)
		}
		return res
	}
	enforced := result(p.Enforced, map[string]probe.Outcome{
		"default-to-sklearn-iris-15006": {Kind: probe.KindReset, Evidence: probe.Evidence{ExitCode: 56}},
		"default-to-sklearn-iris-8080":  http(200, `{"name":"sklearn-iris","ready":true}`),
		"default-to-sklearn-iris-8012":  http(403, "RBAC: access denied for sklearn-iris"),
	}, map[string]bool{"default-to-sklearn-iris-9091": true})
	info := result(p.Informational, map[string]probe.Outcome{
		"default-to-sklearn-iris-15090": http(200, "# TYPE envoy_server_uptime gauge", "sklearn-iris"),
		"default-to-sklearn-iris-15021": http(200, ""),
	}, nil)
	rows := map[string]Row{}
	for _, r := range p.Surface(enforced, info) {
		rows[r.From+"/"+r.Request] = r
	}
	require.Len(t, rows, 6)
	verdict := func(port, path string) Row { return rows["default/GET http://10.0.0.1:"+port+path] }
	assert.Equal(t, Refused, verdict("15006", "/").Verdict)
	assert.Equal(t, "connection-reset (curl 56)", verdict("15006", "/").Observed)
	r := verdict("8080", "/")
	assert.Equal(t, Reachable, r.Verdict)
	assert.Equal(t, []string{"sklearn-iris"}, r.Reveals)
	assert.Equal(t, Failed, verdict("8012", "/").Verdict, "a 403 that names the model")
	assert.Contains(t, verdict("8012", "/").Reason, "must not reveal")
	assert.Equal(t, NotObserved, verdict("9091", "/").Verdict)
	assert.Equal(t, "-", verdict("9091", "/").Observed)
	m := verdict("15090", "/stats/prometheus")
	assert.Equal(t, Informational, m.Verdict)
	assert.Equal(t, []string{"sklearn-iris"}, m.Reveals)
	assert.Equal(t, "user1", m.Namespace)
	assert.Equal(t, "pod", m.Pod)

	// The finding's words.
	assert.Equal(t, "names sklearn-iris", Reveal(http(200, "x", "sklearn-iris"), target.Models, true))
	assert.Equal(t, "names none of sklearn-iris (whole body searched)", Reveal(http(200, "envoy_server_uptime 1"), target.Models, true))
	assert.Equal(t, "names none of sklearn-iris in the first 4 bytes", Reveal(http(200, "ok ok"[:4]), target.Models, false))
	assert.Equal(t, "no answer", Reveal(probe.Outcome{Kind: probe.KindReset}, target.Models, true))
	assert.Equal(t, "no protected names to look for", Reveal(http(200, ""), nil, true))
}
