package opeaistio

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/tests/cases"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// ingressAndMTLSFeature is the in-cluster matrix: TLS ingress with and
// without a matching SNI, the HTTP redirect, and STRICT mTLS from outside
// and inside the mesh; in the full profile also the document's own query.
func ingressAndMTLSFeature() features.Feature {
	return run.MatrixFeature("ingress-and-mtls", "matrix", func(ctx context.Context, t *testing.T) matrix.Matrix {
		svc, err := run.Kube.CoreV1().Services(install.OPEAGateway.Namespace).Get(ctx, install.OPEAGateway.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("gateway service: %v", err)
		}
		_, pemBytes, err := issuedCertificate(ctx)
		if err != nil {
			t.Fatalf("issued certificate: %v", err)
		}
		gw := cases.Gateway{Address: svc.Spec.ClusterIP, CACertPEM: string(pemBytes)}
		m := cases.OPEAIngressAndMTLS(run.Opts.Mode, gw)
		if run.Opts.ChatQnAProfile == options.ProfileFull {
			// The full profile runs the model servers: the document's own
			// request, answered by the whole pipeline.
			m.Cells = append(m.Cells, cases.OPEAChatQnAQuery(gw))
		}
		return m
	})
}
