package kservemesh

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/secure-inference/mesh-conformance/tests/capacity"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/detect"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

func TestKServeIsolationIsTheDocumentsMatrix(t *testing.T) {
	m := Isolation()
	got := map[string]matrix.ExpectKind{}
	for _, c := range m.Cells {
		got[c.Name] = c.Expect.Kind
	}
	assert.Equal(t, map[string]matrix.ExpectKind{
		"user1-to-sklearn-iris-status": matrix.Allowed, "user1-to-sklearn-iris-predict": matrix.Allowed,
		"user2-to-sklearn-iris-status": matrix.DeniedHTTP403, "user2-to-sklearn-iris-predict": matrix.DeniedHTTP403,
		"default-to-sklearn-iris-status": matrix.DeniedHTTP403, "default-to-sklearn-iris-predict": matrix.DeniedHTTP403,
		"user1-to-sklearn-iris-burst-status": matrix.Allowed, "user1-to-sklearn-iris-burst-predict": matrix.Allowed,
		"user2-to-sklearn-iris-burst-status": matrix.Allowed, "user2-to-sklearn-iris-burst-predict": matrix.Allowed,
		"default-to-sklearn-iris-burst-status": matrix.Allowed, "default-to-sklearn-iris-burst-predict": matrix.Allowed,
		"user1-to-httpbin": matrix.Allowed, "user2-to-httpbin": matrix.DeniedHTTP403,
	}, got)
	for _, c := range m.Cells {
		if c.Client != ClientUser1 && c.Expect.Kind == matrix.Allowed {
			assert.Contains(t, c.Expect.Note, "net-istio issue 554", "the activator bypass is reported as the documented limitation")
		}
		if c.Expect.Kind == matrix.DeniedHTTP403 {
			assert.Equal(t, "RBAC: access denied", c.Expect.BodyContains)
			// Each refusal says which fact it proves.
			want := IsolationByNamespace
			if c.Client == ClientDefault {
				want = RefusedViaLocalGateway
			}
			assert.Equal(t, want, c.Expect.Note, c.Name)
		}
	}
	assert.Equal(t, "http://sklearn-iris-predictor.user1.svc.cluster.local/v1/models/sklearn-iris", ModelRequest(SklearnIris).URL)
}

// Only a plaintext client straight to a user1 workload sees STRICT; its
// control expects what PERMISSIVE gives (the policy's 403), and both
// controls name cells that exist.
func TestKServeStrictCellsAndControls(t *testing.T) {
	strict := StrictMTLS()
	require.Len(t, strict.Cells, 1)
	c := strict.Cells[0]
	assert.Equal(t, ClientDefault, c.Client, "the only client without a sidecar")
	assert.Equal(t, "http://httpbin.user1.svc.cluster.local:8000/headers", c.Request.URL)
	assert.Equal(t, matrix.DeniedL4, c.Expect.Kind)
	ctl := StrictControl().Cells[0]
	assert.Equal(t, c.Request, ctl.Request)
	assert.Equal(t, matrix.DeniedHTTP403, ctl.Expect.Kind)
	assert.Equal(t, "RBAC: access denied", ctl.Expect.BodyContains)

	for _, ctl := range PolicyControl().Cells {
		assert.Equal(t, matrix.Allowed, ctl.Expect.Kind)
	}
	assert.Len(t, Isolation().Only("r", "default-to-sklearn-iris-status", "user2-to-sklearn-iris-status").Cells, 2)
	assert.Len(t, strict.Only("r", "default-to-httpbin-plaintext").Cells, 1)
}

func TestKServeIdentityUsesTheTrustDomainAndALargeExcerpt(t *testing.T) {
	c := MTLSIdentity("example.org").Cells[0]
	assert.Equal(t, "URI=spiffe://example.org/ns/user1/sa/sleep", c.Expect.BodyContains)
	assert.GreaterOrEqual(t, c.Request.BodyBytes, 4096, "with B3 tracing headers the URI lands past 512 bytes")
}

// The arithmetic of the KServe issue: on a 4-vCPU runner the suite fits
// with the predictors' 50m requests, and would not with the runtime's own
// 1 CPU each.
func TestKServeRequestsFitA4CPURunner(t *testing.T) {
	var need []capacity.Request
	for _, c := range []string{detect.Istio, detect.CertManager, detect.Knative, detect.KServe} {
		need = append(need, install.Requests(c, dataplane.Sidecar, IstioGateway)...)
	}
	need = append(need, Workloads(install.Sidecar)...)
	cpu, mem := capacity.Sum(need)
	t.Logf("KServe suite requests %dm CPU / %dMi", cpu.MilliValue(), mem.Value()>>20)
	assert.Equal(t, int64(2160), cpu.MilliValue())
	// A kind node on a 4-vCPU / 16 GiB runner with the control plane's
	// 850m already requested.
	free := capacity.Free{Nodes: 1, AllocatableCPU: resource.MustParse("4"), AllocatableMemory: resource.MustParse("16Gi"),
		RequestedCPU: resource.MustParse("850m"), RequestedMemory: resource.MustParse("240Mi"),
		LargestCPU: resource.MustParse("3150m"), LargestMemory: resource.MustParse("15Gi")}
	require.NoError(t, capacity.Check(free, need))
	withRuntimeDefaults := append(need, capacity.Req("sklearn-iris runtime default", "950m", "1920Mi"), capacity.Req("sklearn-iris-burst runtime default", "950m", "1920Mi"))
	assert.Error(t, capacity.Check(free, withRuntimeDefaults))
}

// A predictor pod with Istio's native sidecar: the storage initializer
// (100m/100Mi) runs beside istio-proxy, so the pod asks for 200m CPU, more
// than its running containers' 175m; memory stays the running pod's.
func TestKServePredictorPodCountsTheStorageInitializer(t *testing.T) {
	cpu, mem := capacity.PodRequests(predictorPod(install.Sidecar))
	assert.Equal(t, int64(200), cpu.MilliValue())
	assert.Equal(t, int64(256<<20), mem.Value())
	w := Workloads(install.Sidecar)
	require.Len(t, w, 8, "three predictor pods, five sidecars")
	assert.Equal(t, int64(200), w[0].CPU.MilliValue(), w[0].What)
}

func TestKServeColdStartCells(t *testing.T) {
	m := ColdStartWarm()
	kinds := map[string]matrix.ExpectKind{}
	for _, c := range m.Cells {
		kinds[c.Client.Name] = c.Expect.Kind
		assert.Equal(t, "http://sklearn-iris-cold-predictor.user1.svc.cluster.local/v1/models/sklearn-iris-cold", c.Request.URL)
	}
	assert.Equal(t, map[string]matrix.ExpectKind{"user1": matrix.Allowed, "user2": matrix.DeniedHTTP403, "default": matrix.DeniedHTTP403}, kinds)
	assert.Equal(t, []matrix.Client{ClientUser2, ClientDefault}, ColdClients, "the cold requests come from outside user1")
	assert.Contains(t, ColdStartNote, "the warm refusal is the verdict")
	keep := m.Cells[0]
	assert.Equal(t, ClientUser1, keep.Client, "the warm verdict keeps the model warm with its first cell, which must be user1's allowed request")
	assert.Equal(t, matrix.Allowed, keep.Expect.Kind)
}

// The bypass targets are the protected workloads of user1, probed from the
// two callers the policy refuses; a refusal must not name any model.
func TestKServeBypassTargets(t *testing.T) {
	var names []string
	for _, tg := range BypassTargets() {
		names = append(names, tg.Workload)
		assert.Equal(t, "user1", tg.Namespace)
		assert.Equal(t, Models, tg.Models)
		assert.NotEmpty(t, tg.Sketch)
	}
	assert.Equal(t, []string{SklearnIris, SklearnIrisBurst, "httpbin"}, names)
	assert.Equal(t, "serving.knative.dev/service=sklearn-iris-predictor", BypassTargets()[0].Selector)
	assert.Equal(t, "/v1/models/sklearn-iris-burst", BypassTargets()[1].ModelPath)
	assert.Empty(t, BypassTargets()[2].ModelPath, "httpbin serves no model")
	assert.Equal(t, []matrix.Client{ClientDefault, ClientUser2}, BypassClients)
}

// Fail-closed probes httpbin, which Knative does not front, so that a 2xx
// there is the mesh: every refused cell to it (user2 by the policy,
// default's plaintext by STRICT) and user1's allowed one. No cell targets
// a predictor, which the activator serves while its pods restart.
func TestFailClosedProbesHTTPBinNotAPredictor(t *testing.T) {
	var refused, allowed []string
	for _, c := range FailClosedCells().Cells {
		assert.Equal(t, HTTPBinHeaders.URL, c.Request.URL, c.Name)
		if c.Expect.Kind == matrix.Allowed {
			allowed = append(allowed, c.Name)
		} else {
			refused = append(refused, c.Name)
		}
	}
	assert.ElementsMatch(t, []string{"user2-to-httpbin", "default-to-httpbin-plaintext"}, refused)
	assert.Equal(t, []string{"user1-to-httpbin"}, allowed)
	for _, m := range []matrix.Matrix{Isolation(), StrictMTLS()} {
		for _, c := range m.Cells {
			if c.Request.URL == HTTPBinHeaders.URL && c.Expect.Kind != matrix.Allowed {
				assert.Contains(t, refused, c.Name, "a refused httpbin cell left out would never be checked for failing open")
			}
		}
	}
}

// restart-isolation probes every refused cell to sklearn-iris, and user1's.
func TestRestartProbesTheRefusedCellsToAPredictor(t *testing.T) {
	var refused, got []string
	for _, c := range Isolation().Cells {
		toModel := c.Request.URL == ModelRequest(SklearnIris).URL || c.Request.URL == PredictRequest(SklearnIris).URL
		if toModel && c.Expect.Kind != matrix.Allowed {
			refused = append(refused, c.Name)
		}
	}
	var allowed []string
	for _, c := range RestartCells().Cells {
		if c.Expect.Kind == matrix.Allowed {
			allowed = append(allowed, c.Name)
		} else {
			got = append(got, c.Name)
		}
	}
	assert.ElementsMatch(t, refused, got)
	assert.Len(t, got, 4)
	assert.Equal(t, []string{"user1-to-sklearn-iris-status"}, allowed)
}

// The top-level host cell: the InferenceService's own name (not its
// predictor's), from the allowed client, must not resolve; what the flag
// false gives (KServe's route through knative-local-gateway to the
// activator: 200, or the local gateway's 403/404) fails it.
func TestTopLevelHostCellChangesWithTheFlag(t *testing.T) {
	m := TopLevelHost()
	require.Len(t, m.Cells, 1)
	c := m.Cells[0]
	assert.Equal(t, ClientUser1, c.Client, "the client every model admits: only the host decides")
	assert.Equal(t, "http://sklearn-iris-burst.user1.svc.cluster.local/v1/models/sklearn-iris-burst", c.Request.URL)
	assert.NotContains(t, c.Request.URL, "-predictor")
	assert.Contains(t, c.Expect.Note, "reconcilers/ingress/ingress_reconciler.go")
	ok, _ := c.Expect.Match(probe.Outcome{Kind: probe.KindDNS})
	assert.True(t, ok, "disableIstioVirtualHost true: no Service of that name")
	for _, flagFalse := range []probe.Outcome{{Kind: probe.KindHTTP, HTTPCode: 200}, {Kind: probe.KindHTTP, HTTPCode: 404}, {Kind: probe.KindHTTP, HTTPCode: 403}} {
		ok, _ := c.Expect.Match(flagFalse)
		assert.False(t, ok, "%+v", flagFalse)
	}
}
