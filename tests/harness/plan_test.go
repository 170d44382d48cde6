package harness

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// --dry-run lists the steps in order, each feature with its support level
// (an unclaimed extended feature says how to claim it) and manifests, and
// each matrix's cells with client, request and expectation.
func TestDryRunPlanListsStepsFeaturesAndCells(t *testing.T) {
	client := matrix.Client{Name: "outside", Namespace: "outside"}
	m := matrix.Matrix{Name: "m", Cells: []matrix.Cell{{Name: "outside-to-model", Client: client,
		Request: probe.Request{URL: "http://model.ns/v1"}, Expect: matrix.Expect(matrix.DeniedL4).WithNote("STRICT")}}}
	s := &Suite{Name: "s", Modes: []dataplane.Mode{dataplane.Sidecar},
		Features: []Feature{
			{Name: "isolation", Kind: KindMatrix, Manifests: []string{"kservemesh/auth.yaml"}, Matrices: Fixed(m)},
			{Name: "host-tls", Kind: KindMatrix, Support: Extended, Matrices: Fixed(m)},
		}}
	r := &Run{Suite: "s", Opts: options.Defaults()}
	r.Opts.Mode = dataplane.Sidecar
	var out bytes.Buffer
	err := s.plan(&out, r, []Step{{Name: "istio", Component: "istio"}, {Name: "auth", Run: func(context.Context, *Env) error { return nil }}})
	require.NoError(t, err, "every feature is declared as it can run")
	got := out.String()
	for _, want := range []string{
		"s (sidecar mode): dry run, nothing is touched",
		"1. istio (installs istio unless the cluster has it)",
		"2. auth\n",
		"- isolation [core, matrix]",
		"manifests: kservemesh/auth.yaml",
		"matrix m:",
		"outside-to-model  outside  GET http://model.ns/v1  denied (reset/EOF)",
		"note outside-to-model: STRICT",
		"- host-tls [extended, matrix, not claimed: --supported-features=host-tls runs it]",
	} {
		assert.Contains(t, got, want)
	}

	// A suite with setup profiles names the one the options select.
	s.Profile = func(options.Options) string { return "hardened" }
	out.Reset()
	require.NoError(t, s.plan(&out, r, nil))
	assert.Contains(t, out.String(), "s (sidecar mode, hardened profile): dry run, nothing is touched")
}

// A declaration error that planning a feature finds (a control's fixture
// lacks its policy) is returned by the plan, naming the feature and the
// fixture, so that the dry run exits 1 (TestADryRunWithPlanErrorsExitsOne).
func TestThePlanReturnsItsDeclarationErrors(t *testing.T) {
	s := &Suite{Name: "s", Features: []Feature{brokenControl, {Name: "after-it", Kind: KindMatrix, Matrices: Fixed()}}}
	r := &Run{Suite: "s", Opts: options.Defaults()}
	var out bytes.Buffer
	err := s.plan(&out, r, nil)
	require.Error(t, err)
	assert.Equal(t, "strict-control/fixtures: "+brokenControlError, err.Error())
	assert.Contains(t, out.String(), "- after-it [core, matrix]", "the whole plan is printed")
}

// A feature that does not apply with the run's options (Feature.Applies,
// a profile's own feature) is out of the plan and the budget; with the
// options it applies to, it is in both. The suite's profile is what the
// report's environment names.
func TestAFeatureThatDoesNotApplyIsLeftOut(t *testing.T) {
	hardened := func(o options.Options) bool { return o.KServeProfile == options.KServeHardened }
	s := &Suite{Name: "s", Features: []Feature{
		{Name: "always", Kind: KindMatrix, Matrices: Fixed()},
		{Name: "profile-control", Kind: KindMatrix, Matrices: Fixed(), Applies: hardened},
	}, Profile: func(o options.Options) string { return string(o.KServeProfile) }}
	for _, c := range []struct {
		profile options.KServeProfile
		in      bool
	}{{options.KServeDocumented, false}, {options.KServeHardened, true}} {
		r := &Run{Suite: "s", Opts: options.Defaults()}
		r.Opts.KServeProfile = c.profile
		var out bytes.Buffer
		require.NoError(t, s.plan(&out, r, nil))
		assert.Contains(t, out.String(), "- always [core, matrix]")
		assert.Equal(t, c.in, strings.Contains(out.String(), "- profile-control"), "plan, profile %s", c.profile)
		n := 1
		if c.in {
			n = 2
		}
		assert.Contains(t, s.budget(r, nil).String(), fmt.Sprintf("%d features", n), "budget, profile %s", c.profile)
		assert.Equal(t, string(c.profile), s.profile(r.Opts))
	}
	assert.Empty(t, (&Suite{}).profile(options.Defaults()), "a suite with one setup names no profile")
}
