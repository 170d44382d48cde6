package opeaistio

import (
	"context"
	"fmt"
	"testing"

	"github.com/secure-inference/mesh-conformance/tests/cluster"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// hostTLSFeature probes TLS ingress from the test machine, through the
// address the ingress has outside the cluster: the host port on 127.0.0.1
// that kind published the HTTPS node port on, or --ingress-address. Its cells
// run the same curl through the same rounds as the in-cluster cells, from
// the local client. It is an extended feature: a cluster whose ingress
// this machine cannot reach does not claim it.
var hostTLSFeature = harness.Feature{
	Name: hostTLSIngress, Kind: "matrix", Support: harness.Extended,
	Manifests: []string{"opeaistio/istio-gateway-and-virtual-service.yaml", "opeaistio/istio-gateway-ca-and-cert.yaml"},
	Body: harness.MatrixBody("matching-sni-served-other-sni-refused", func(ctx context.Context, t *testing.T, r *harness.Run) matrix.Matrix {
		_, pemBytes, err := issuedCertificate(ctx, r)
		if err != nil {
			t.Fatalf("issued certificate: %v", err)
		}
		addr := r.Opts.IngressAddress
		if addr == "" && r.Kind != nil {
			addr, err = HostIngressAddress(ctx, r.Kind)
		}
		if addr == "" || err != nil {
			t.Fatalf("the TLS ingress's address on this machine is unknown (%v): pass --ingress-address=HOST:PORT", err)
		}
		return HostTLS(addr, string(pemBytes))
	}),
	Matrices: func(r *harness.Run) []matrix.Matrix {
		addr := r.Opts.IngressAddress
		if addr == "" {
			addr = fmt.Sprintf("127.0.0.1:<host port kind published for node port %d>", IstioGateway.NodePorts["https"])
		}
		return []matrix.Matrix{HostTLS(addr, "<issued certificate>")}
	},
}

// hostTLSIngress is the extended feature's name.
const hostTLSIngress = "host-tls-ingress"

// checkHostTLS refuses a claim of host-tls-ingress that has no address to
// probe: off the suite's own kind cluster (claims), --ingress-address.
func checkHostTLS(o options.Options, claimed func(string) bool) error {
	if o.OwnKindCluster() {
		return nil
	}
	if claimed(hostTLSIngress) && o.IngressAddress == "" {
		return fmt.Errorf("%s is claimed but this machine's address of the TLS ingress is unknown: pass --ingress-address=HOST:PORT, or --exempt-features=%s", hostTLSIngress, hostTLSIngress)
	}
	return nil
}

// HostIngressAddress is where this machine reaches the TLS ingress of the
// suite's own kind cluster: the host address and port Docker published the
// gateway's HTTPS node port on. kind-config/opeaistio.yaml leaves the host
// port to kind, so each cluster (each mode, each --cluster-name) has one of
// its own, and a kept cluster of one mode never blocks the other.
func HostIngressAddress(ctx context.Context, k *cluster.Kind) (string, error) {
	return k.HostAddress(ctx, int32(IstioGateway.NodePorts["https"]))
}
