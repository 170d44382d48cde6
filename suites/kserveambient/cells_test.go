package kserveambient

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

func kinds(m matrix.Matrix) map[string]matrix.ExpectKind {
	out := map[string]matrix.ExpectKind{}
	for _, c := range m.Cells {
		out[c.Name] = c.Expect.Kind
	}
	return out
}

// Each refusal says where it comes from: in ambient mode user2 meets the
// waypoint's L7 policy (403) and outside only ztunnel (reset); with
// sidecars both meet the predictor's sidecar (403).
func TestIsolationPerMode(t *testing.T) {
	assert.Equal(t, map[string]matrix.ExpectKind{
		"user1-to-sklearn-iris-status": matrix.Allowed, "user1-to-sklearn-iris-predict": matrix.Allowed,
		"user2-to-sklearn-iris-status": matrix.DeniedHTTP403, "user2-to-sklearn-iris-predict": matrix.DeniedHTTP403,
		"outside-to-sklearn-iris-status": matrix.DeniedL4, "outside-to-sklearn-iris-predict": matrix.DeniedL4,
	}, kinds(Isolation(dataplane.Ambient)))
	assert.Equal(t, map[string]matrix.ExpectKind{
		"user1-to-sklearn-iris-status": matrix.Allowed, "user1-to-sklearn-iris-predict": matrix.Allowed,
		"user2-to-sklearn-iris-status": matrix.DeniedHTTP403, "user2-to-sklearn-iris-predict": matrix.DeniedHTTP403,
		"outside-to-sklearn-iris-status": matrix.DeniedHTTP403, "outside-to-sklearn-iris-predict": matrix.DeniedHTTP403,
	}, kinds(Isolation(dataplane.Sidecar)))
	for _, c := range Isolation(dataplane.Ambient).Cells {
		switch c.Client {
		case ClientUser2:
			assert.Equal(t, RefusedByWaypoint, c.Expect.Note, c.Name)
			assert.Equal(t, "RBAC: access denied", c.Expect.BodyContains, "the waypoint's RBAC filter")
		case ClientOutside:
			assert.Equal(t, RefusedByZtunnel, c.Expect.Note, c.Name)
		}
	}
	assert.Equal(t, "http://sklearn-iris-predictor.user1.svc.cluster.local/v1/models/sklearn-iris", Isolation(dataplane.Ambient).Cells[0].Request.URL,
		"Standard mode's predictor Service, the KServe suite's host")
}

// By pod IP there is no waypoint: ambient refuses everyone there (user1
// too), sidecar mode serves user1 as by the Service.
func TestPodIPSkipsTheWaypoint(t *testing.T) {
	for _, c := range PodIP(dataplane.Ambient, "10.244.0.7").Cells {
		assert.Equal(t, matrix.DeniedL4, c.Expect.Kind, c.Name)
		assert.Equal(t, "http://10.244.0.7:8080/v1/models/sklearn-iris", c.Request.URL)
	}
	assert.Equal(t, matrix.Allowed, kinds(PodIP(dataplane.Sidecar, "10.244.0.7"))["user1-to-sklearn-iris-pod-ip"])
	assert.Equal(t, "http://[fd00:10:244::7]:8080/v1/models/sklearn-iris", PodIPRequest("fd00:10:244::7").URL, "an IPv6 pod IP in brackets")
}

func TestL7RuleOnZtunnelRefusesInAmbientOnly(t *testing.T) {
	assert.Equal(t, matrix.AnyRefusal, L7RuleOnZtunnel(dataplane.Ambient).Cells[0].Expect.Kind)
	assert.Equal(t, matrix.Allowed, L7RuleOnZtunnel(dataplane.Sidecar).Cells[0].Expect.Kind)
}

// The fail-closed and control matrices name cells that exist: a name Only
// cannot find is no cell (and fails the run).
func TestDerivedMatricesNameRealCells(t *testing.T) {
	for _, mode := range dataplane.Modes {
		assert.Len(t, FailClosedCells(mode).Cells, 3, mode)
		assert.Len(t, restoredIsolation(options.Options{Mode: mode}).Cells, 1, mode)
	}
}

func object(t *testing.T, file, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range fixtures.MustLoad(file) {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("%s has no %s %s", file, kind, name)
	return nil
}

// The cells' reasons hold only if the fixtures are what they say: the
// waypoint is the Gateway the namespace label and the L7 policy name, of
// the waypoint class, serving Services only; the L4 policy admits the
// waypoint's identity and nothing else.
func TestFixturesAreWhatTheCellsSay(t *testing.T) {
	gw := object(t, WaypointFixture, "Gateway", Waypoint)
	class, _, _ := unstructured.NestedString(gw.Object, "spec", "gatewayClassName")
	assert.Equal(t, "istio-waypoint", class)
	assert.Equal(t, "service", gw.GetLabels()[WaypointForLabel], "a pod IP must not go through it (PodIP's premise)")
	assert.Equal(t, Waypoint, object(t, WaypointFixture, "Namespace", "user1").GetLabels()[UseWaypointLabel])

	l7 := object(t, authFixture(dataplane.Ambient), "AuthorizationPolicy", "ns-owner-access-istio")
	refs, _, _ := unstructured.NestedSlice(l7.Object, "spec", "targetRefs")
	require.Len(t, refs, 1)
	assert.Equal(t, map[string]any{"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": Waypoint}, refs[0])

	l4 := object(t, authFixture(dataplane.Ambient), "AuthorizationPolicy", "allow-waypoint")
	_, hasSelector, _ := unstructured.NestedMap(l4.Object, "spec", "selector")
	assert.False(t, hasSelector, "every user1 workload")
	rules, _, _ := unstructured.NestedSlice(l4.Object, "spec", "rules")
	assert.Equal(t, []any{map[string]any{"from": []any{map[string]any{"source": map[string]any{
		"principals": []any{"cluster.local/ns/user1/sa/" + Waypoint}}}}}}, rules)

	for _, mode := range dataplane.Modes {
		deny := object(t, authFixture(mode), "AuthorizationPolicy", "global-deny-all")
		assert.Equal(t, "istio-system", deny.GetNamespace(), "the root namespace: mesh-wide")
		assert.Empty(t, deny.Object["spec"], "no rules: allows nothing")
	}

	rule := object(t, L7RuleFixture, "AuthorizationPolicy", "deny-delete-on-ztunnel")
	sel, _, _ := unstructured.NestedStringMap(rule.Object, "spec", "selector", "matchLabels")
	assert.Equal(t, map[string]string{"app": "httpbin"}, sel, "a selector: ztunnel enforces it")
}

func TestStepsPerMode(t *testing.T) {
	names := func(mode dataplane.Mode) []string {
		var out []string
		for _, s := range steps(options.Options{Mode: mode}) {
			out = append(out, s.Name)
		}
		return out
	}
	assert.Contains(t, names(dataplane.Ambient), "waypoint")
	assert.NotContains(t, names(dataplane.Sidecar), "waypoint")
	assert.Contains(t, names(dataplane.Sidecar), "auth-sidecar")
	values, err := fixtures.Values("kserveambient/kserve-resources.values.yaml")
	require.NoError(t, err)
	mode, _, _ := unstructured.NestedString(values, "kserve", "controller", "deploymentMode")
	assert.Equal(t, "Standard", mode, "KEP-2676: no Knative under ambient")
}
