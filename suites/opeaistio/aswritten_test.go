package opeaistio

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

func setupOf(s options.Setup) options.Options {
	o := options.Defaults()
	o.Mode, o.Setup = dataplane.Ambient, s
	return o
}

// As written, the setup is the corrected one without the enrollment of
// chatqna, and nothing else changes.
func TestAsWrittenLeavesOutTheEnrollmentOnly(t *testing.T) {
	names := func(o options.Options) []string {
		var out []string
		for _, s := range steps(o) {
			out = append(out, s.Name)
		}
		return out
	}
	fixed, written := names(setupOf(options.SetupCorrected)), names(setupOf(options.SetupAsWritten))
	i := slices.Index(fixed, EnrollStep)
	require.Positive(t, i)
	assert.Equal(t, slices.Delete(slices.Clone(fixed), i, i+1), written)
}

// As written, the premise finds chatqna outside the mesh, the matrix
// expects the client outside the mesh served, the cleanup is the
// document's; what proves the mesh (bypass, control, fail-closed) and the
// corrected premise and cleanup do not apply. The corrected run has none
// of the as-written features.
func TestAsWrittenFeatures(t *testing.T) {
	applying := func(o options.Options) []string {
		var out []string
		for _, f := range Suite.Features {
			if f.Applies == nil || f.Applies(o) {
				out = append(out, f.Name)
			}
		}
		return out
	}
	assert.Equal(t, []string{"baseline", "not-enrolled-as-written", "gateway-certificate", "ingress-and-mtls", "host-tls-ingress", "cleanup-as-written"},
		applying(setupOf(options.SetupAsWritten)))
	fixed := applying(setupOf(options.SetupCorrected))
	assert.NotContains(t, fixed, "not-enrolled-as-written")
	assert.NotContains(t, fixed, "cleanup-as-written")
	assert.Contains(t, fixed, "mesh-enrollment")
	assert.Contains(t, fixed, "cleanup")
	for _, f := range []harness.Feature{notEnrolledFeature, cleanupAsWrittenFeature} {
		assert.NoError(t, f.Validate())
	}
}

// The as-written matrix differs from the corrected one on one cell: the
// client outside the mesh is served, since STRICT enforces nothing on
// pods ztunnel never captured.
func TestAsWrittenServesTheClientOutsideTheMesh(t *testing.T) {
	fixed := IngressAndMTLS(dataplane.Ambient, Gateway{})
	written := IngressAndMTLSAsWritten(fixed)
	require.Len(t, written.Cells, len(fixed.Cells))
	var changed []string
	for i, c := range written.Cells {
		if !assert.ObjectsAreEqual(fixed.Cells[i].Expect, c.Expect) {
			changed = append(changed, c.Name)
			assert.Equal(t, matrix.Expect(matrix.Allowed).WithNote(NotEnrolledNote), c.Expect)
		}
	}
	assert.Equal(t, []string{"outside-mesh-to-chatqna-nginx"}, changed)
	assert.Equal(t, matrix.DeniedL4, fixed.Cells[3].Expect.Kind, "the corrected matrix is left as it was")
}

// The document configures ambient mode only: its as-written run is refused
// with sidecars, before anything is touched.
func TestAsWrittenIsAmbientOnly(t *testing.T) {
	o := setupOf(options.SetupAsWritten)
	assert.NoError(t, checkAsWritten(o))
	o.Mode = dataplane.Sidecar
	assert.ErrorContains(t, checkAsWritten(o), "opea-istio.md configures ambient mode only")
	o.Setup = options.SetupCorrected
	assert.NoError(t, checkAsWritten(o))
	assert.True(t, Suite.AsWritten)
}
