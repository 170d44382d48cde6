package harness

import (
	"bytes"
	"context"
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
