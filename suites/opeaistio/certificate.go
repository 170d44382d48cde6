package opeaistio

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"testing"

	"github.com/secure-inference/mesh-conformance/tests/harness"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
)

const (
	gatewayNamespace = "istio-ingress"
	gatewaySecret    = "istio-gateway"
	wildcard         = "*.intel.com"
)

// issuedCertificate reads the certificate cert-manager issued into the
// gateway's credential secret.
func issuedCertificate(ctx context.Context, r *harness.Run) (*x509.Certificate, []byte, error) {
	s, err := r.Kube.CoreV1().Secrets(gatewayNamespace).Get(ctx, gatewaySecret, metav1.GetOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("secret %s/%s: %w", gatewayNamespace, gatewaySecret, err)
	}
	block, _ := pem.Decode(s.Data["tls.crt"])
	if block == nil {
		return nil, nil, fmt.Errorf("secret %s/%s has no PEM certificate in tls.crt", gatewayNamespace, gatewaySecret)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	return cert, s.Data["tls.crt"], err
}

// certificateFeature: the issued certificate covers *.intel.com.
var certificateFeature = harness.Feature{
	Name: "gateway-certificate", Kind: "premise", Manifests: []string{"opeaistio/istio-gateway-ca-and-cert.yaml"},
	Body: func(r *harness.Run, name string, b *features.FeatureBuilder) *features.FeatureBuilder {
		return b.
			Assess("issued-certificate-has-wildcard-san", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
				cert, _, err := issuedCertificate(ctx, r)
				if err == nil && !slices.Contains(cert.DNSNames, wildcard) {
					err = fmt.Errorf("issued certificate's DNS names are %v, want %s", cert.DNSNames, wildcard)
				}
				r.Check(ctx, t, name+"/san", err)
				return ctx
			})
	},
}
