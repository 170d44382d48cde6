package kservemesh

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// The documented profile is the document's matrix; the hardened one
// differs in exactly the other namespaces' calls to sklearn-iris-burst,
// each now a 403 with the reason its caller is refused at the activator;
// user1 is still served by both models.
func TestHardenedIsolationDiffersOnlyOnTheActivatorPath(t *testing.T) {
	doc := Isolation()
	assert.Equal(t, doc, IsolationOf(options.KServeDocumented))
	hard := IsolationOf(options.KServeHardened)
	require.Len(t, hard.Cells, len(doc.Cells))
	assert.Equal(t, doc.Name, hard.Name)
	var changed []string
	for i, h := range hard.Cells {
		d := doc.Cells[i]
		assert.Equal(t, d.Name, h.Name)
		assert.Equal(t, d.Client, h.Client)
		assert.Equal(t, d.Request, h.Request)
		if assert.ObjectsAreEqual(d.Expect, h.Expect) {
			continue
		}
		changed = append(changed, h.Name)
		assert.Equal(t, matrix.Allowed, d.Expect.Kind, "%s: documented, the activator serves it", h.Name)
		assert.Equal(t, matrix.DeniedHTTP403, h.Expect.Kind, h.Name)
		assert.Equal(t, "RBAC: access denied", h.Expect.BodyContains, h.Name)
		want := RefusedAtActivatorByNamespace
		if h.Client == ClientDefault {
			want = RefusedAtActivatorViaLocalGateway
		}
		assert.Equal(t, want, h.Expect.Note, h.Name)
	}
	// Spelt out, not HardenedBurst: the list the code uses is what is tested.
	assert.ElementsMatch(t, []string{
		"user2-to-sklearn-iris-burst-status", "user2-to-sklearn-iris-burst-predict",
		"default-to-sklearn-iris-burst-status", "default-to-sklearn-iris-burst-predict",
	}, changed)
	for _, c := range hard.Cells {
		if c.Client == ClientUser1 {
			assert.Equal(t, matrix.Allowed, c.Expect.Kind, "%s: user1 is served by both models under the hardened profile too", c.Name)
		}
	}
}

// The hardened profile adds one step, right after auth, that applies the
// hardened fixture; the documented profile's steps are unchanged.
func TestHardenedProfileAddsItsStepAfterAuth(t *testing.T) {
	names := func(p options.KServeProfile) []string {
		o := options.Defaults()
		o.KServeProfile = p
		var out []string
		for _, s := range steps(o) {
			out = append(out, s.Name)
		}
		return out
	}
	doc, hard := names(options.KServeDocumented), names(options.KServeHardened)
	assert.NotContains(t, doc, "hardened-activator-policies")
	i := slices.Index(hard, "hardened-activator-policies")
	require.Positive(t, i)
	assert.Equal(t, "auth", hard[i-1])
	assert.Equal(t, doc, slices.Delete(slices.Clone(hard), i, i+1), "nothing else changes")
}

// The activator's control runs only under the hardened profile, removes
// every policy that selects the activator (one left would still refuse
// user2, and the 200 could not come back), and its cells exist in the
// restored matrix.
func TestActivatorControlIsTheHardenedProfilesOwn(t *testing.T) {
	o := options.Defaults()
	assert.False(t, activatorControlFeature.Applies(o))
	o.KServeProfile = options.KServeHardened
	assert.True(t, activatorControlFeature.Applies(o))

	var selecting []string
	for _, p := range fixtures.MustLoad(HardenedFixture) {
		spec, _, _ := unstructured.NestedMap(p.Object, "spec")
		labels, _, _ := unstructured.NestedStringMap(p.Object, "spec", "selector", "matchLabels")
		if p.GetKind() == "AuthorizationPolicy" && (len(spec) == 0 || labels["app"] == "activator") {
			selecting = append(selecting, p.GetName())
		}
	}
	assert.ElementsMatch(t, []string{"deny-all-by-default", "allow-traffic-to-activator", "allow-user1-via-activator"}, selecting)

	for _, c := range ActivatorControl().Cells {
		assert.Equal(t, matrix.Allowed, c.Expect.Kind, c.Name)
	}
	assert.Len(t, IsolationOf(options.KServeHardened).Only("r", "default-to-sklearn-iris-burst-status", "user2-to-sklearn-iris-burst-status").Cells, 2)
	assert.Equal(t, "hardened", Suite.Profile(o), "the report names the profile")
}

// While the model is cold or restarting, a refused caller's 2xx is
// reported against the profile's setup: the documented limitation, or the
// hardened activator failing.
func TestActivatorNotesFollowTheProfile(t *testing.T) {
	o := options.Defaults()
	assert.Equal(t, ColdStartNote, activatorNote(ColdStartNote)(o))
	assert.Equal(t, RestartNote, activatorNote(RestartNote)(o))
	o.KServeProfile = options.KServeHardened
	assert.Equal(t, HardenedActivatorNote, activatorNote(ColdStartNote)(o))
	assert.Equal(t, HardenedActivatorNote, activatorNote(RestartNote)(o))
}

// The report's side by side of the two profiles lists exactly the other
// namespaces' calls to sklearn-iris-burst of the isolation matrix, with
// the documented 200 beside the hardened 403, whichever profile runs: the
// activator's own control is the hardened profile's alone, and every other
// cell is the same under both.
func TestProfileCellsAreTheActivatorPath(t *testing.T) {
	for _, p := range options.KServeProfiles {
		o := options.Defaults()
		o.KServeProfile = p
		cells, err := Suite.ProfileCells(o)
		require.NoError(t, err)
		var names []string
		for _, c := range cells {
			names = append(names, c.Matrix+"/"+c.Cell)
			assert.Contains(t, c.Expected[string(options.KServeDocumented)], "allowed (2xx)", c.Cell)
			assert.Contains(t, c.Expected[string(options.KServeHardened)], "denied (HTTP 403)", c.Cell)
		}
		m := Isolation().Name
		assert.Equal(t, []string{m + "/user2-to-sklearn-iris-burst-status", m + "/user2-to-sklearn-iris-burst-predict",
			m + "/default-to-sklearn-iris-burst-status", m + "/default-to-sklearn-iris-burst-predict"}, names, "run under %s", p)
	}
}

// While the model is cold or restarting, another namespace's 2xx is a
// finding under the documented profile (the activator limitation) and a
// failing verdict under the hardened one, whose activator policies must
// refuse it then too.
func TestServedWhileColdOrRestartingFailsOnlyTheHardenedProfile(t *testing.T) {
	o := options.Defaults()
	assert.False(t, coldStartSpec.ServedFails(o), "documented: a cold request served is a finding")
	assert.False(t, restartSpec.ServedFails(o), "documented: a request served while restarting is a finding")
	o.KServeProfile = options.KServeHardened
	assert.True(t, coldStartSpec.ServedFails(o), "hardened: a cold request served fails cold-start-isolation")
	assert.True(t, restartSpec.ServedFails(o), "hardened: a request served while restarting fails restart-isolation")
}
