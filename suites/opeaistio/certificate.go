package opeaistio

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"

	"github.com/secure-inference/mesh-conformance/tests/harness"
)

const (
	gatewayNamespace = "istio-ingress"
	gatewaySecret    = "istio-gateway"
	wildcard         = "*.intel.com"
)

// issuedCertificate is the PEM certificate cert-manager issued into the
// gateway's credential secret (a placeholder in a dry run).
func issuedCertificate(ctx context.Context, f harness.Facts) (string, error) {
	return f.Certificate(ctx, gatewayNamespace, gatewaySecret)
}

// certificateFeature: the issued certificate covers *.intel.com.
var certificateFeature = harness.Feature{
	Name: "gateway-certificate", Kind: harness.KindPremise, Manifests: []string{"opeaistio/istio-gateway-ca-and-cert.yaml"},
	Checks: []harness.Check{{Name: "san", Run: func(ctx context.Context, e *harness.Env) error {
		pemBytes, err := issuedCertificate(ctx, e)
		if err != nil {
			return err
		}
		block, _ := pem.Decode([]byte(pemBytes))
		if block == nil {
			return fmt.Errorf("secret %s/%s has no PEM certificate in tls.crt", gatewayNamespace, gatewaySecret)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return err
		}
		if !slices.Contains(cert.DNSNames, wildcard) {
			return fmt.Errorf("issued certificate's DNS names are %v, want %s", cert.DNSNames, wildcard)
		}
		return nil
	}}},
}
