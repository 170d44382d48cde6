package kservemesh

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/options"
)

// Every deviation points at a setup step the suite has (under one of its
// profiles): a renamed step fails here.
func TestDeviationsPointAtRealSteps(t *testing.T) {
	var runs []options.Options
	for _, p := range options.KServeProfiles {
		o := options.Defaults()
		o.KServeProfile = p
		runs = append(runs, o)
	}
	require.NoError(t, Suite.CheckDeviations(runs...))
	assert.Error(t, Suite.CheckDeviations(options.Defaults()), "the hardened step is the hardened profile's alone")
}
