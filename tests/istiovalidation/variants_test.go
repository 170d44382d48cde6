package istiovalidation

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/fixtures"
)

// Every variant builds from its fixture and changes it; the fixtures hold
// the Istio objects the lab applies.
func TestVariantsBuild(t *testing.T) {
	for _, v := range Variants {
		o, err := v.Build()
		require.NoError(t, err, v.Name)
		objs, err := fixtures.Load(v.File)
		require.NoError(t, err)
		for _, orig := range objs {
			if orig.GetKind() == v.Kind && orig.GetName() == v.Object {
				assert.NotEqual(t, orig.Object, o.Object, "%s changes the object", v.Name)
			}
		}
	}
	n := 0
	for _, f := range Fixtures {
		objs, err := fixtures.Load(f)
		require.NoError(t, err)
		for _, o := range objs {
			if IsIstio(o) {
				n++
			}
		}
	}
	assert.Equal(t, IstioObjects, n, "Istio objects in the suites' fixtures")
}

// An edit at a path the fixture lacks is an error, not a silent no-op.
func TestAnEditAtAMissingPathFails(t *testing.T) {
	v := Variants[0]
	v.Edit = set("spec.rules.9.from", nil)
	_, err := v.Build()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no item 9")
}
