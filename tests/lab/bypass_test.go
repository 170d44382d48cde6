package lab

import (
	"context"
	_ "embed"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/suites/kservemesh"
	"github.com/secure-inference/mesh-conformance/tests/apply"
	"github.com/secure-inference/mesh-conformance/tests/bypass"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

//go:embed testdata/bypass.yaml
var bypassStandins []byte

// The bypass-paths cells on real pods, enumerated from their live specs
// and probed by pod IP from the KServe suite's bypass clients: a stand-in
// that answers on a declared application port fails exactly those cells
// (the workload's answer, REACHABLE in its table); one whose ports refuse
// passes every cell. The plaintext ports of its "sidecar" are findings in
// both, and the metrics page is found to name the model past the excerpt.
func TestBypassPathsOnStandIns(t *testing.T) {
	ctx := context.Background()
	objs, err := apply.Decode("tests/lab/testdata/bypass.yaml", bypassStandins)
	require.NoError(t, err)
	require.NoError(t, applier.Apply(ctx, objs...))
	t.Cleanup(func() { _ = applier.Delete(context.Background(), objs...) })
	require.NoError(t, ready.Deployments(ctx, kube, "user1", "app in (bypass-open,bypass-closed)", 3*time.Minute))

	assess := func(app string) (bypass.Plan, matrix.Result, matrix.Result) {
		target := bypass.Target{Workload: app, Namespace: "user1", Selector: "app=" + app, ModelPath: "/v1/models/" + kservemesh.SklearnIris, Models: kservemesh.Models}
		pods, err := bypass.Live(ctx, kube, target, dataplane.Sidecar)
		require.NoError(t, err)
		plan := bypass.Build("lab-bypass-"+app, []bypass.TargetPods{{Target: target, Pods: pods}}, kservemesh.BypassClients)
		enforced := matrix.Run(ctx, plan.Enforced, exec_, resolve, labSettings())
		s := labSettings()
		s.RequiredConsecutiveSuccesses = 1
		info := matrix.Run(ctx, plan.Informational, exec_, resolve, s)
		recorder.Matrix("kservemesh-on-standins", harness.ReportMatrix(enforced))
		for _, a := range harness.AttackSurfaces(plan.Surface(enforced, info)) {
			recorder.Setup("kservemesh-on-standins").AttackSurface(a)
		}
		for _, f := range harness.BypassFindings("bypass-paths", plan, info) {
			recorder.Setup("kservemesh-on-standins").Finding(f)
		}
		t.Log("\n" + enforced.Table() + "\n" + info.Table())
		require.NoError(t, enforced.Err)
		require.NoError(t, info.Err)
		return plan, enforced, info
	}

	// Open: the cells fail on 8080 alone, at / and at the model path, from
	// both clients, with the stand-in's answer as evidence.
	plan, enforced, info := assess("bypass-open")
	assert.Equal(t, []string{"default-to-bypass-open-8080", "default-to-bypass-open-8080-model", "user2-to-bypass-open-8080", "user2-to-bypass-open-8080-model"},
		failedNames(enforced))
	rows := map[string]bypass.Row{}
	for _, r := range plan.Surface(enforced, info) {
		rows[r.From+"/"+r.Request[len("GET http://"):]] = r
	}
	ip := plan.Probes["default-to-bypass-open-8080"].Pod.IP
	row := func(from, rest string) bypass.Row { return rows[from+"/"+ip+rest] }
	assert.Equal(t, bypass.Reachable, row("default", ":8080/v1/models/sklearn-iris").Verdict)
	assert.Contains(t, row("default", ":8080/v1/models/sklearn-iris").Reveals, kservemesh.SklearnIris, "the model answered by pod IP")
	assert.Equal(t, bypass.Refused, row("user2", ":9091/").Verdict, "declared, nothing listens: refused")
	assert.Equal(t, "connection-refused (curl 7)", row("user2", ":9091/").Observed)
	assert.Equal(t, bypass.Refused, row("default", ":15006/").Verdict)
	m := row("default", ":15090/stats/prometheus")
	assert.Equal(t, bypass.Informational, m.Verdict)
	assert.Equal(t, "HTTP 200", m.Observed)
	assert.Contains(t, m.Reveals, kservemesh.SklearnIris, "named past the excerpt: found by the whole-body search")
	assert.Equal(t, bypass.Informational, row("user2", ":15021/healthz/ready").Verdict)
	assert.Empty(t, row("user2", ":15021/healthz/ready").Reveals)
	assert.Equal(t, bypass.Informational, row("default", ":15020/stats/prometheus").Verdict, "nothing listens on 15020: observed, still no verdict")
	assert.Equal(t, "connection-refused (curl 7)", row("default", ":15020/stats/prometheus").Observed)

	// Closed: the same ports refuse, every cell passes.
	_, enforced, info = assess("bypass-closed")
	assert.True(t, enforced.Passed(), enforced.Table())
	assert.Empty(t, info.Failed())
}
