package opeaistio

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/options"
)

// Every deviation points at a setup step or feature the suite has in one
// of its modes and ChatQnA profiles: a renamed step fails here.
func TestDeviationsPointAtRealSteps(t *testing.T) {
	var runs []options.Options
	for _, m := range Modes {
		for _, p := range options.Profiles {
			o := options.Defaults()
			o.Mode, o.ChatQnAProfile = m, p
			runs = append(runs, o)
		}
	}
	require.NoError(t, Suite.CheckDeviations(runs...))
	o := options.Defaults()
	o.Mode = Modes[0]
	assert.Error(t, Suite.CheckDeviations(o), "the sidecar mode's and the full profile's steps are theirs alone")
}
