package harness

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/options"
)

// A host-side feature claimed on a cluster the suite did not create needs
// --ingress-address; on the suite's own kind cluster, with the address, or
// unclaimed, nothing is refused.
func TestCheckHostIngressClaim(t *testing.T) {
	f := Feature{Name: "host-side"}
	claimed := func(Feature) bool { return true }
	unclaimed := func(Feature) bool { return false }
	existing := options.Options{}
	existing.Cluster.Kubeconfig = "/tmp/kubeconfig"

	err := CheckHostIngressClaim(existing, claimed, f, "the ingress")
	require.Error(t, err)
	assert.Equal(t, "host-side is claimed but this machine's address of the ingress is unknown: "+
		"pass --ingress-address=HOST:PORT, or --exempt-features=host-side", err.Error())

	assert.NoError(t, CheckHostIngressClaim(options.Options{}, claimed, f, "the ingress"), "the suite's own kind cluster publishes the port")
	assert.NoError(t, CheckHostIngressClaim(existing, unclaimed, f, "the ingress"))
	withAddress := existing
	withAddress.IngressAddress = "203.0.113.10:80"
	assert.NoError(t, CheckHostIngressClaim(withAddress, claimed, f, "the ingress"))
}

// --ingress-address wins over the published node port; without it the
// node port is asked for (a placeholder in a dry run).
func TestHostIngress(t *testing.T) {
	ctx := context.Background()
	addr, err := HostIngress(ctx, options.Options{IngressAddress: "203.0.113.10:80"}, placeholders{}, 30080)
	require.NoError(t, err)
	assert.Equal(t, "203.0.113.10:80", addr)
	addr, err = HostIngress(ctx, options.Options{}, placeholders{}, 30080)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:<host port kind published for node port 30080>", addr)
}

// The URL names the routed host on the ingress's port; --resolve pins it
// to the ingress's address, an IPv6 one in brackets.
func TestHostRequest(t *testing.T) {
	r := HostRequest("http", "model.example.com", "127.0.0.1:41234", "/v1/models/m")
	assert.Equal(t, "http://model.example.com:41234/v1/models/m", r.URL)
	assert.Equal(t, []string{"model.example.com:41234:127.0.0.1"}, r.Resolve)
	r = HostRequest("https", "model.example.com", "[2001:db8::1]:443", "/")
	assert.Equal(t, []string{"model.example.com:443:[2001:db8::1]"}, r.Resolve)
}
