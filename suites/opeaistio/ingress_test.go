package opeaistio

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/tests/cases"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
)

// ingressAndMTLSFeature is the in-cluster matrix: TLS ingress with and
// without a matching SNI, the HTTP redirect, and STRICT mTLS from outside
// and inside the mesh.
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
		return cases.OPEAIngressAndMTLS(run.Opts.Mode, cases.Gateway{Address: svc.Spec.ClusterIP, CACertPEM: string(pemBytes)})
	})
}
