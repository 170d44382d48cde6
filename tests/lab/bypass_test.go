//go:build lab

package lab

import (
	"context"
	_ "embed"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secure-inference/mesh-conformance/suites/kservemesh"
	"github.com/secure-inference/mesh-conformance/suites/opeaistio"
	"github.com/secure-inference/mesh-conformance/tests/apply"
	"github.com/secure-inference/mesh-conformance/tests/bypass"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

//go:embed testdata/bypass.yaml
var bypassStandins []byte

//go:embed testdata/bypass-ambient.yaml
var ambientBypassStandins []byte

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

// The OPEA suite's ambient bypass-paths cells on real pods: its target
// (chatqna-nginx's container and undeclared port 80) and its client
// outside the mesh, with ztunnel's in-pod ports. Without a mesh they fail
// exactly where enforcement is needed: nginx answering on the pod IP, and
// a 15008 that admits a TLS client without a certificate. A 15008 that
// requires one (the ztunnel stand-in) refuses the TLS probe, where the
// plaintext probe the cell had met the stand-in's TLS alert and was a
// client error, never a refusal.
func TestOPEAAmbientBypassPathsOnStandIns(t *testing.T) {
	ctx := context.Background()
	objs, err := apply.Decode("tests/lab/testdata/bypass-ambient.yaml", ambientBypassStandins)
	require.NoError(t, err)
	require.NoError(t, applier.Apply(ctx, objs...))
	t.Cleanup(func() { _ = applier.Delete(context.Background(), objs...) })
	require.NoError(t, ready.Deployments(ctx, kube, "chatqna", "app in (ambient-open,ambient-closed)", 3*time.Minute))

	assess := func(app string) (bypass.Plan, matrix.Result) {
		target := opeaistio.BypassTargets()[0]
		target.Workload, target.Selector = app, "app="+app
		pods, err := bypass.Live(ctx, kube, target, dataplane.Ambient)
		require.NoError(t, err)
		plan := bypass.Build("lab-ambient-bypass-"+app, []bypass.TargetPods{{Target: target, Pods: pods}}, opeaistio.BypassClients)
		require.Empty(t, plan.Informational.Cells, "nothing is informational in ambient mode")
		enforced := matrix.Run(ctx, plan.Enforced, exec_, resolve, labSettings())
		recorder.Matrix("opeaistio-on-standins", harness.ReportMatrix(enforced))
		for _, a := range harness.AttackSurfaces(plan.Surface(enforced, matrix.Result{})) {
			recorder.Setup("opeaistio-on-standins").AttackSurface(a)
		}
		t.Log("\n" + enforced.Table())
		require.NoError(t, enforced.Err)
		return plan, enforced
	}
	rows := func(plan bypass.Plan, res matrix.Result) map[int32]bypass.Row {
		out := map[int32]bypass.Row{}
		for _, r := range plan.Surface(res, matrix.Result{}) {
			out[r.Port.Number] = r
		}
		return out
	}

	// Open: nginx by pod IP and the admitting 15008 fail, nothing else.
	plan, enforced := assess("ambient-open")
	assert.Equal(t, []string{"outside-to-ambient-open-15008", "outside-to-ambient-open-80"}, failedNames(enforced))
	open := rows(plan, enforced)
	assert.Equal(t, bypass.Reachable, open[80].Verdict)
	assert.Equal(t, bypass.Reachable, open[15008].Verdict, "admitted without a certificate and answered: %s", open[15008].Observed)
	assert.Equal(t, "GET https://"+open[15008].PodIP+":15008/", open[15008].Request)
	for _, n := range []int32{15001, 15006, 15053} {
		assert.Equal(t, bypass.Refused, open[n].Verdict, n)
		assert.Equal(t, "connection-refused (curl 7)", open[n].Observed, n)
	}

	// Closed: every cell passes; 15008 refuses the TLS probe.
	plan, enforced = assess("ambient-closed")
	assert.True(t, enforced.Passed(), enforced.Table())
	hbone := rows(plan, enforced)[15008]
	assert.Equal(t, bypass.Refused, hbone.Verdict)
	t.Logf("15008 (certificate required) to the TLS probe: %s (%s)", hbone.Observed, hbone.Evidence.ErrorMessage)

	// The plaintext probe the cell had, on the same pod: a client error.
	list, err := kube.CoreV1().Pods(opeaistio.ClientOutside.Namespace).List(ctx, metav1.ListOptions{LabelSelector: opeaistio.ClientOutside.Selector})
	require.NoError(t, err)
	require.NotEmpty(t, list.Items)
	client := probe.Pod{Namespace: opeaistio.ClientOutside.Namespace, Name: list.Items[0].Name, Container: opeaistio.ClientOutside.Container}
	outs, err := probe.Run(ctx, exec_, client, []probe.Request{{URL: "http://" + hbone.PodIP + ":15008/"}}, 3*time.Second)
	require.NoError(t, err)
	assert.Equal(t, probe.KindClientError, outs[0].Kind, outs[0].Detail())
	ok, _ := matrix.Expect(matrix.AnyRefusal).Match(outs[0])
	assert.False(t, ok, "the plaintext probe could not pass")
	t.Logf("15008 to the old plaintext probe: %s", outs[0].Detail())
}
