package opeaistio

import (
	"context"
	"fmt"
	"testing"

	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"

	kindconfig "github.com/secure-inference/mesh-conformance/kind-config"
)

// hostTLSFeature probes TLS ingress from the test machine, through the
// address the ingress has outside the cluster: the node port that the
// suite's kind config maps to 127.0.0.1, or --ingress-address. Its cells
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
		return HostTLS(ingressAddress(r), string(pemBytes))
	}),
	Matrices: func(r *harness.Run) []matrix.Matrix {
		return []matrix.Matrix{HostTLS(ingressAddress(r), "<issued certificate>")}
	},
}

// hostTLSIngress is the extended feature's name.
const hostTLSIngress = "host-tls-ingress"

// claimHostTLS claims host-tls-ingress on the suite's own kind cluster, and
// refuses a claim that has no address to probe.
func claimHostTLS(r *harness.Run) error {
	if r.Opts.OwnKindCluster() {
		r.Claim(hostTLSIngress)
		return nil
	}
	if r.Claimed(hostTLSIngress) && r.Opts.IngressAddress == "" {
		return fmt.Errorf("%s is claimed but this machine's address of the TLS ingress is unknown: pass --ingress-address=HOST:PORT, or --exempt-features=%s", hostTLSIngress, hostTLSIngress)
	}
	return nil
}

// ingressAddress is where this machine reaches the TLS ingress.
func ingressAddress(r *harness.Run) string {
	if r.Opts.IngressAddress != "" {
		return r.Opts.IngressAddress
	}
	return fmt.Sprintf("127.0.0.1:%d", kindconfig.OPEAHostHTTPSPort)
}
