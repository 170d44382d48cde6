package matrix

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/secure-inference/mesh-conformance/tests/dataplane"
)

func TestDeniedByPolicyFollowsTheMode(t *testing.T) {
	side := DeniedByPolicy(dataplane.Sidecar)
	assert.Equal(t, DeniedHTTP403, side.Kind, "a sidecar answers the policy's refusal with 403")
	assert.Equal(t, "RBAC: access denied", side.BodyContains)
	amb := DeniedByPolicy(dataplane.Ambient)
	assert.Equal(t, DeniedL4, amb.Kind, "ztunnel without a waypoint refuses at L4")
	assert.Empty(t, amb.BodyContains)
}
