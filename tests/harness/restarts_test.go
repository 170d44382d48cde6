package harness

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/secure-inference/mesh-conformance/tests/coldstart"
	"github.com/secure-inference/mesh-conformance/tests/disruption"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	"github.com/secure-inference/mesh-conformance/tests/probe/probetest"
	"github.com/secure-inference/mesh-conformance/tests/report"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

func readyClient(ns string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: ns, Namespace: ns, Labels: map[string]string{"app": "sleep"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
}

// A model restart measured through the harness: each 2xx of the refused
// cell becomes a finding with its round, time, path, curl's evidence and
// its window's length, and the run passes because the cell is refused
// again once restored. A restart that served nobody leaves one finding
// that says so.
func TestRestartsRecordEachServedRoundAsAFinding(t *testing.T) {
	o := options.Defaults()
	o.Timeouts.RoundInterval, o.Timeouts.RequestTimeout, o.Timeouts.MaxTimeToConsistency, o.Timeouts.RequiredConsecutiveSuccesses =
		time.Millisecond, time.Second, 2*time.Second, 2
	user2 := matrix.Client{Name: "user2", Namespace: "user2", Selector: "app=sleep", Container: "sleep"}
	user1 := matrix.Client{Name: "user1", Namespace: "user1", Selector: "app=sleep", Container: "sleep"}
	m := matrix.Matrix{Name: "restart", Cells: []matrix.Cell{
		{Name: "user2-to-model", Client: user2, Request: probe.Request{URL: "http://model/"}, Expect: matrix.Expect(matrix.DeniedHTTP403)},
		{Name: "user1-to-model", Client: user1, Request: probe.Request{URL: "http://model/"}, Expect: matrix.Expect(matrix.Allowed)},
	}}
	rbac := probetest.Answer{Code: 403, Body: "RBAC: access denied"}
	served := probetest.Answer{Code: 200, Body: `{"name":"model","ready":true}`}
	r := &Run{Suite: "kservemesh", Opts: o, Report: report.NewRecorder(reportapi.Environment{}), Kube: fake.NewSimpleClientset(readyClient("user1"), readyClient("user2")),
		Exec: probetest.New(map[string][]probetest.Answer{
			"user2 http://model/": {rbac, served, served, rbac},
			"user1 http://model/": {served},
		})}
	var mu sync.Mutex
	reads := 0
	path := func(context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		reads++
		if reads == 2 || reads == 3 {
			return "model-00001: Serve, activator endpoints True", nil
		}
		return "model-00001: Serve, activator endpoints False", nil
	}
	nothing := func(context.Context) error { return nil }
	d := disruption.Disruption{Name: "pod-restart", What: "the model's pods deleted", Take: nothing, Restore: nothing}

	scope := r.Report.Start("kservemesh", "restart-isolation", reportapi.Core)
	ctx := report.WithScope(context.Background(), scope)
	res := r.restarts(ctx, t, "restart-isolation", d, m, path, time.Second, time.Second, "note", false)
	require.True(t, res.Passed(), res.Summary())

	d.Name = "rollout" // served nobody: under a setup whose refusals hold while away, a passing verdict
	r.Exec = probetest.New(map[string][]probetest.Answer{"user2 http://model/": {rbac}, "user1 http://model/": {served}})
	r.restarts(ctx, t, "restart-isolation", d, m, path, time.Second, time.Second, "note", true)
	scope.Finish(reportapi.Success, "")

	fs := r.Report.Report().Suites[0].Findings
	require.Len(t, fs, 3, "two served rounds, and one restart that served nobody")
	for i, round := range []string{"1", "2"} {
		f := fs[i]
		assert.Equal(t, "restart-isolation/pod-restart/user2-to-model-round-"+round, f.Name)
		assert.Equal(t, "user2", f.Client)
		assert.Equal(t, "GET http://model/", f.Request)
		assert.True(t, strings.HasPrefix(f.Observed, "HTTP 200 in round "+round), f.Observed)
		assert.Contains(t, f.Observed, "path: model-00001: Serve, activator endpoints True")
		assert.Contains(t, f.Observed, "SERVED while the model's pods deleted")
		assert.Contains(t, f.Evidence.Body, `"ready":true`, "curl's evidence")
		assert.Positive(t, f.Seconds["window"], "the window runs from round 1 to the refusal of round 3")
		assert.Equal(t, fs[0].Seconds["window"], f.Seconds["window"], "one window")
		assert.Equal(t, "note", f.Note)
	}
	assert.Equal(t, "restart-isolation/rollout/never-served", fs[2].Name)
	assert.Contains(t, fs[2].Observed, "no refused cell answered 2xx")
	var checks []string
	for _, c := range r.Report.Report().Suites[0].Checks {
		checks = append(checks, c.Name+" "+string(c.Result))
	}
	assert.Equal(t, []string{"restart-isolation/rollout/refused-while-away success"}, checks,
		"the verdict on the served rounds exists only where the setup asks for it")
}

// Under a setup that must refuse while the target is away, every served
// round fails the verdict, each named with its cell, round and answer.
func TestServedWhileAwayFailsOnEveryBreach(t *testing.T) {
	res := disruption.Result{What: "the model's pods deleted"}
	assert.NoError(t, servedWhileAway(res))
	res.Breaches = []disruption.Breach{
		{Round: 2, Phase: disruption.Taken, Cell: "user2-to-model", Client: "user2", Request: "GET http://model/", Outcome: probe.Outcome{Kind: probe.KindHTTP, HTTPCode: 200}},
		{Round: 3, Phase: disruption.Restoring, Cell: "default-to-model", Client: "default", Request: "GET http://model/", Outcome: probe.Outcome{Kind: probe.KindHTTP, HTTPCode: 200}},
	}
	err := servedWhileAway(res)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2 refused request(s) SERVED while the model's pods deleted")
	assert.Contains(t, err.Error(), "round 2 (taken")
	assert.Contains(t, err.Error(), "cell default-to-model (default -> GET http://model/) answered HTTP 200")
}

// Under a setup that must refuse while the target is cold, a served cold
// request fails; a refused one passes.
func TestColdVerdictFailsAServedColdRequest(t *testing.T) {
	user2 := matrix.Client{Name: "user2"}
	req := probe.Request{URL: "http://model/"}
	cold := coldstart.State{Mode: coldstart.ModeProxy}
	assert.NoError(t, coldVerdict(user2, req, coldstart.Sample{Cold: cold, Outcome: probe.Outcome{Kind: probe.KindHTTP, HTTPCode: 403}}))
	err := coldVerdict(user2, req, coldstart.Sample{Cold: cold, Outcome: probe.Outcome{Kind: probe.KindHTTP, HTTPCode: 200}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "user2 -> GET http://model/ was SERVED while cold (0 ready pod(s), Proxy mode): HTTP 200")
}
