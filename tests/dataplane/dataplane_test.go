package dataplane

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/secure-inference/mesh-conformance/tests/matrix"
)

func TestDeniedByPolicyFollowsTheMode(t *testing.T) {
	side := DeniedByPolicy(Sidecar)
	assert.Equal(t, matrix.DeniedHTTP403, side.Kind, "a sidecar answers the policy's refusal with 403")
	assert.Equal(t, "RBAC: access denied", side.BodyContains)
	amb := DeniedByPolicy(Ambient)
	assert.Equal(t, matrix.DeniedL4, amb.Kind, "ztunnel without a waypoint refuses at L4")
	assert.Empty(t, amb.BodyContains)
}
