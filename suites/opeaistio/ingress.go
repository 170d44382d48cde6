package opeaistio

import (
	"context"

	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// ingressAndMTLSFeature is the in-cluster matrix: TLS ingress with and
// without a matching SNI, the HTTP redirect, and STRICT mTLS from outside
// and inside the mesh; in the full profile also the document's own query.
// The gateway's ClusterIP and the issued certificate are the cluster's.
// As written, the client outside the mesh is served (IngressAndMTLSAsWritten).
var ingressAndMTLSFeature = harness.Feature{
	Name: "ingress-and-mtls", Kind: harness.KindMatrix,
	Manifests: []string{"opeaistio/istio-gateway-and-virtual-service.yaml", "opeaistio/istio-gateway-ca-and-cert.yaml", "opeaistio/istio-mtls-strict.yaml", "opeaistio/clients.yaml"},
	Matrices: func(ctx context.Context, o options.Options, f harness.Facts) ([]matrix.Matrix, error) {
		ip, err := f.ClusterIP(ctx, IstioGateway.Namespace, IstioGateway.Name)
		if err != nil {
			return nil, err
		}
		pemBytes, err := issuedCertificate(ctx, f)
		if err != nil {
			return nil, err
		}
		gw := Gateway{Address: ip, CACertPEM: pemBytes}
		m := IngressAndMTLS(o.Mode, gw)
		if o.ChatQnAProfile == options.ProfileFull {
			// The full profile runs the model servers: the document's own
			// request, answered by the whole pipeline.
			m.Cells = append(m.Cells, ChatQnAQuery(gw))
		}
		if options.AsWritten(o) {
			m = IngressAndMTLSAsWritten(m)
		}
		return []matrix.Matrix{m}, nil
	},
}
