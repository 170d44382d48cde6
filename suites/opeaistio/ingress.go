package opeaistio

import (
	"context"
	"testing"

	"github.com/secure-inference/mesh-conformance/tests/harness"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// ingressAndMTLSFeature is the in-cluster matrix: TLS ingress with and
// without a matching SNI, the HTTP redirect, and STRICT mTLS from outside
// and inside the mesh; in the full profile also the document's own query.
var ingressAndMTLSFeature = harness.Feature{
	Name: "ingress-and-mtls", Kind: "matrix",
	Manifests: []string{"opeaistio/istio-gateway-and-virtual-service.yaml", "opeaistio/istio-gateway-ca-and-cert.yaml", "opeaistio/istio-mtls-strict.yaml", "opeaistio/clients.yaml"},
	Body: harness.MatrixBody("matrix", func(ctx context.Context, t *testing.T, r *harness.Run) matrix.Matrix {
		svc, err := r.Kube.CoreV1().Services(IstioGateway.Namespace).Get(ctx, IstioGateway.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("gateway service: %v", err)
		}
		_, pemBytes, err := issuedCertificate(ctx, r)
		if err != nil {
			t.Fatalf("issued certificate: %v", err)
		}
		return ingressMatrix(r, Gateway{Address: svc.Spec.ClusterIP, CACertPEM: string(pemBytes)})
	}),
	Matrices: func(r *harness.Run) []matrix.Matrix {
		return []matrix.Matrix{ingressMatrix(r, Gateway{Address: "<gateway ClusterIP>", CACertPEM: "<issued certificate>"})}
	},
}

func ingressMatrix(r *harness.Run, gw Gateway) matrix.Matrix {
	m := IngressAndMTLS(r.Opts.Mode, gw)
	if r.Opts.ChatQnAProfile == options.ProfileFull {
		// The full profile runs the model servers: the document's own
		// request, answered by the whole pipeline.
		m.Cells = append(m.Cells, ChatQnAQuery(gw))
	}
	return m
}
