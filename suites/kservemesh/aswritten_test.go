package kservemesh

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

func setupOf(s options.Setup) options.Options {
	o := options.Defaults()
	o.Setup = s
	return o
}

// stepNames are a run's setup steps, then the features that apply: what
// a deviation can point at.
func stepNames(o options.Options) (steps, features []string) {
	for _, s := range Suite.Steps(o) {
		steps = append(steps, s.Name)
	}
	for _, f := range Suite.Features {
		if f.Applies == nil || f.Applies(o) {
			features = append(features, f.Name)
		}
	}
	return steps, features
}

// As written, the document's own steps replace the corrected run's
// namespace, InferenceServices and clients, in the document's order (the
// label after auth.yaml and the ConfigMap); the installs, the Knative
// sidecars, auth.yaml and the flag's check are the same steps.
func TestAsWrittenSteps(t *testing.T) {
	written, _ := stepNames(setupOf(options.SetupAsWritten))
	assert.Equal(t, []string{"capacity", "baseline-workloads", "istio", "cert-manager", "knative-operator", "knative-serving", "kserve",
		createUser1Step, "knative-serving-sidecars", "auth", "istio-virtual-host-disabled", labelUser1Step, isvcsAsWrittenStep, httpbinAndSleepStep}, written)
	fixed, _ := stepNames(setupOf(options.SetupCorrected))
	for _, s := range []string{createUser1Step, labelUser1Step, isvcsAsWrittenStep, httpbinAndSleepStep} {
		assert.NotContains(t, fixed, s, "the corrected run is left as it was")
	}
}

// As written, only the document's claims and premises run; the corrected
// run has none of them.
func TestAsWrittenFeatures(t *testing.T) {
	_, written := stepNames(setupOf(options.SetupAsWritten))
	assert.Equal(t, []string{"baseline", ingressEditAsWritten, "activator-premise-as-written", documentClaimsName}, written)
	_, fixed := stepNames(setupOf(options.SetupCorrected))
	for _, f := range written[1:] {
		assert.NotContains(t, fixed, f)
	}
	for _, f := range []string{"virtual-host-disabled", "activator-premise", "namespace-isolation", "strict-mtls", "mtls-identity", "bypass-paths",
		"policy-control", "strict-control", "cold-start-isolation", RestartIsolation, FailClosed} {
		assert.Contains(t, fixed, f)
	}
	for _, f := range []harness.Feature{ingressEditFeature, activatorPremiseAsWritten, documentClaimsFeature} {
		assert.NoError(t, f.Validate())
	}
}

// The document's ConfigMap edit, byte for byte as printed, cannot be
// applied: the premise fails and says why.
func TestIngressEditAsPrintedFails(t *testing.T) {
	err := CheckIngressEdit()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not valid YAML")
	edit, rerr := fixtures.FS.ReadFile(IngressEditAsWritten)
	require.NoError(t, rerr)
	assert.Equal(t, "ingress : |- {\n    \"disableIstioVirtualHost\": true\n}\n", string(edit), "the document's lines")
}

// The claims are the document's four curls: its clients, its hosts and
// its HTTP codes.
func TestDocumentClaims(t *testing.T) {
	m := DocumentClaims()
	require.Len(t, m.Cells, 4)
	want := map[string]matrix.ExpectKind{
		"httpbin-istio-proxy-to-sklearn-iris": matrix.Allowed, "httpbin-istio-proxy-to-sklearn-iris-burst": matrix.Allowed,
		"default-to-sklearn-iris": matrix.DeniedByPolicy(dataplane.Sidecar).Kind, "default-to-sklearn-iris-burst": matrix.Allowed,
	}
	for _, c := range m.Cells {
		assert.Equal(t, want[c.Name], c.Expect.Kind, c.Name)
		assert.Contains(t, c.Request.URL, "-predictor-default.user1.svc.cluster.local/v1/models/", c.Name)
		assert.Contains(t, c.Expect.Note, "the document's claim", c.Name)
	}
	assert.Equal(t, "istio-proxy", m.Cells[0].Client.Container)
	assert.Equal(t, ClientDefault, m.Cells[2].Client)
}

// StillDeviatesAsWritten are the corrected run's deviations the
// as-written run keeps: the kserve chart sets disableIstioVirtualHost in
// both runs (the installer's values), since the document's own edit
// cannot be applied (the premise ingress-edit-as-written says so).
var StillDeviatesAsWritten = []string{"disable-istio-virtual-host-by-chart-value"}

// Every deviation the corrected run declares is undone by the as-written
// run, each checked on what that run applies or probes: a new deviation
// without its as-written counterpart fails here. The as-written run
// reports only the deviations it keeps.
func TestEveryDeviationIsUndoneAsWritten(t *testing.T) {
	o := setupOf(options.SetupAsWritten)
	steps, features := stepNames(o)
	isvcs := fixtures.MustLoad(InferenceServicesAsWritten)
	objs, err := httpbinAndSleep()
	require.NoError(t, err)
	clients := map[matrix.Client]bool{}
	var urls []string
	for _, c := range DocumentClaims().Cells {
		clients[c.Client] = true
		urls = append(urls, c.Request.URL)
	}
	undone := map[string]func(t *testing.T){
		"probe-from-an-application-container": func(t *testing.T) {
			assert.True(t, clients[ClientHTTPBinProxy], "the document curls from httpbin's istio-proxy")
			assert.Equal(t, "istio-proxy", ClientHTTPBinProxy.Container)
		},
		"user2-client": func(t *testing.T) {
			for c := range clients {
				assert.NotEqual(t, "user2", c.Namespace)
			}
			for _, obj := range append(objs, fixtures.MustLoad(NamespaceAsWritten)...) {
				assert.NotEqual(t, "user2", obj.GetNamespace())
				assert.NotEqual(t, "user2", obj.GetName())
			}
		},
		"disable-istio-virtual-host-by-chart-value": func(t *testing.T) {
			assert.Contains(t, features, ingressEditAsWritten)
			assert.Error(t, CheckIngressEdit())
		},
		"predictor-host": func(t *testing.T) {
			for _, u := range urls {
				assert.Contains(t, u, "-predictor-default.")
			}
		},
		"target-burst-capacity-key": func(t *testing.T) {
			for _, u := range isvcs {
				for k := range u.GetAnnotations() {
					assert.NotEqual(t, "autoscaling.knative.dev/target-burst-capacity", k)
				}
			}
			assert.Equal(t, "0", fixtures.MustPick(InferenceServicesAsWritten, "InferenceService", SklearnIris).GetAnnotations()["autoscaling.knative.dev/targetBurstCapacity"])
		},
		"predictor-requests": func(t *testing.T) {
			for _, u := range isvcs {
				_, found := u.Object["spec"].(map[string]any)["predictor"].(map[string]any)["model"].(map[string]any)["resources"]
				assert.False(t, found, "%s: the document sets no resources", u.GetName())
			}
		},
		"cold-start-model": func(t *testing.T) {
			var names []string
			for _, u := range isvcs {
				names = append(names, u.GetName())
			}
			assert.ElementsMatch(t, []string{SklearnIris, SklearnIrisBurst}, names)
		},
		"hardened-activator-policies": func(t *testing.T) {
			h := o
			h.KServeProfile = options.KServeHardened
			assert.ErrorContains(t, checkAsWritten(h), "no hardened setup")
		},
	}
	for _, d := range Deviations {
		check, ok := undone[d.Name]
		if !assert.True(t, ok, "deviation %s: nothing checks what the as-written run does instead", d.Name) {
			continue
		}
		t.Run(d.Name, check)
		kept := slices.Contains(append(steps, features...), d.Step)
		assert.Equal(t, slices.Contains(StillDeviatesAsWritten, d.Name), kept,
			"deviation %s (step %s): reported by the as-written run only if it keeps it", d.Name, d.Step)
	}
	assert.Len(t, undone, len(Deviations), "a check for a deviation the suite no longer declares")
}

// The as-written run has one setup: the hardened profile is refused
// before anything is touched, and no profile cells are compared.
func TestAsWrittenHasOneSetup(t *testing.T) {
	o := setupOf(options.SetupAsWritten)
	assert.NoError(t, Suite.CheckOptions(o, nil))
	cells, err := Suite.ProfileCells(o)
	require.NoError(t, err)
	assert.Empty(t, cells)
	o.KServeProfile = options.KServeHardened
	assert.ErrorContains(t, Suite.CheckOptions(o, nil), "--kserve-profile=documented")
	o.Setup = options.SetupCorrected
	assert.NoError(t, Suite.CheckOptions(o, nil))
	assert.True(t, Suite.AsWritten)
}
