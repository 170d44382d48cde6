package opeaistio

import (
	"context"
	"fmt"

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
	Name: hostTLSIngress, Kind: harness.KindMatrix, Support: harness.Extended, ClaimedOnOwnCluster: true,
	Manifests: []string{"opeaistio/istio-gateway-and-virtual-service.yaml", "opeaistio/istio-gateway-ca-and-cert.yaml"},
	Matrices: func(ctx context.Context, o options.Options, f harness.Facts) ([]matrix.Matrix, error) {
		pemBytes, err := issuedCertificate(ctx, f)
		if err != nil {
			return nil, err
		}
		addr := o.IngressAddress
		if addr == "" {
			if addr, err = f.HostAddress(ctx, IstioGateway.NodePorts["https"]); err != nil {
				return nil, err
			}
		}
		return []matrix.Matrix{HostTLS(addr, pemBytes)}, nil
	},
}

// hostTLSIngress is the extended feature's name.
const hostTLSIngress = "host-tls-ingress"

// checkHostTLSClaim refuses, before any cluster is touched, a claim of
// host-tls-ingress on a cluster not the suite's own without an address to
// probe.
func checkHostTLSClaim(o options.Options, claimed func(harness.Feature) bool) error {
	if !o.OwnKindCluster() && claimed(hostTLSFeature) && o.IngressAddress == "" {
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
