package cluster

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// opeaistio.yaml and kserveambient.yaml publish their ingress's node
// ports on 127.0.0.1 and leave the host ports to kind: no two clusters made
// from one collide.
func TestPortMappingsOfTheSuitesKindConfigs(t *testing.T) {
	got, err := PortMappings(filepath.Join("..", "..", "kind-config", "opeaistio.yaml"))
	require.NoError(t, err)
	assert.Equal(t, []PortMapping{
		{ContainerPort: 30080, Protocol: "tcp", ListenAddress: "127.0.0.1"},
		{ContainerPort: 30443, Protocol: "tcp", ListenAddress: "127.0.0.1"},
	}, got)
	assert.Equal(t, "30443/tcp->any host port", got[1].String())
	assert.Empty(t, PortHolders(got, []Container{{Name: "mesh-conformance-opeaistio-ambient-control-plane",
		Bindings: []Binding{{Key: "30443/tcp", HostIP: "127.0.0.1", HostPort: 30443}}}}),
		"a mapping without a host port is never held")
	// kserveambient.yaml: the ingress Gateway's HTTP node port, likewise.
	got, err = PortMappings(filepath.Join("..", "..", "kind-config", "kserveambient.yaml"))
	require.NoError(t, err)
	assert.Equal(t, []PortMapping{{ContainerPort: 30080, Protocol: "tcp", ListenAddress: "127.0.0.1"}}, got)
	got, err = PortMappings(filepath.Join("..", "..", "kind-config", "lab.yaml"))
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = PortMappings("no-such-file.yaml")
	assert.ErrorContains(t, err, "kind config no-such-file.yaml")
}

// docker inspect's lines as RunningContainers asks for them: a kind node
// (with its cluster label, the API server on a random port) and a plain
// container publishing on every address.
const inspected = `"/mesh-conformance-opeaistio-ambient-control-plane" "mesh-conformance-opeaistio-ambient" {"30443/tcp":[{"HostIp":"127.0.0.1","HostPort":"30443"}],"6443/tcp":[{"HostIp":"127.0.0.1","HostPort":"41233"}]}
"/web" null {"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"::","HostPort":"8080"}],"53/udp":null}
"/quiet" null {}
`

func TestPortHoldersAreAnyRunningContainer(t *testing.T) {
	running, err := parseInspect(inspected)
	require.NoError(t, err)
	require.Len(t, running, 3)
	assert.Equal(t, "mesh-conformance-opeaistio-ambient-control-plane", running[0].Name)
	assert.Equal(t, "mesh-conformance-opeaistio-ambient", running[0].KindCluster)
	assert.Empty(t, running[1].KindCluster)

	fixed := []PortMapping{
		{ContainerPort: 30443, Protocol: "tcp", HostPort: 30443, ListenAddress: "127.0.0.1"},
		{ContainerPort: 30080, Protocol: "tcp", HostPort: 30080, ListenAddress: "127.0.0.1"},
	}
	held := PortHolders(fixed, running)
	require.Len(t, held, 1, "the other mode's kept cluster holds 30443, nothing holds 30080")
	assert.Equal(t, "host port 127.0.0.1:30443 (30443/tcp->30443) is held by container mesh-conformance-opeaistio-ambient-control-plane "+
		"(a node of the kind cluster mesh-conformance-opeaistio-ambient)", held[0].String())

	// Addresses overlap when equal or either is every address; the
	// protocol must match.
	for _, c := range []struct {
		m    PortMapping
		held bool
	}{
		{PortMapping{ContainerPort: 80, Protocol: "tcp", HostPort: 8080, ListenAddress: "127.0.0.1"}, true}, // web binds 0.0.0.0
		{PortMapping{ContainerPort: 80, Protocol: "tcp", HostPort: 8080}, true},
		{PortMapping{ContainerPort: 80, Protocol: "udp", HostPort: 8080}, false},
		{PortMapping{ContainerPort: 1, Protocol: "tcp", HostPort: 30443, ListenAddress: "127.0.0.2"}, false},
		{PortMapping{ContainerPort: 1, Protocol: "tcp", HostPort: 30443, ListenAddress: "0.0.0.0"}, true},
		{PortMapping{ContainerPort: 1, Protocol: "tcp", HostPort: 41233, ListenAddress: "127.0.0.1"}, true}, // a node's API server port
	} {
		assert.Equal(t, c.held, len(PortHolders([]PortMapping{c.m}, running)) > 0, "%+v", c.m)
	}
}

func TestParseInspectRefusesWhatItCannotRead(t *testing.T) {
	_, err := parseInspect(`"/x" null not-json`)
	assert.Error(t, err)
	got, err := parseInspect("")
	require.NoError(t, err)
	assert.Empty(t, got)
}
