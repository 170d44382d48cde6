package cluster

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPortMappingsOfTheSuitesKindConfigs(t *testing.T) {
	got, err := PortMappings(filepath.Join("..", "..", "kind-config", "opeaistio.yaml"))
	require.NoError(t, err)
	assert.Equal(t, []string{"30080/tcp->30080", "30443/tcp->30443"}, got)
	got, err = PortMappings(filepath.Join("..", "..", "kind-config", "lab.yaml"))
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = PortMappings("no-such-file.yaml")
	assert.ErrorContains(t, err, "kind config no-such-file.yaml")
}
