package opeaistio

import (
	"context"

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
		addr, err := harness.HostIngress(ctx, o, f, IstioGateway.NodePorts["https"])
		if err != nil {
			return nil, err
		}
		return []matrix.Matrix{HostTLS(addr, pemBytes)}, nil
	},
}

// hostTLSIngress is the extended feature's name.
const hostTLSIngress = "host-tls-ingress"
