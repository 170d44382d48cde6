package opeaistio

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/secure-inference/mesh-conformance/tests/harness"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	kindconfig "github.com/secure-inference/mesh-conformance/kind-config"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// hostTLSFeature probes TLS ingress from the test process, through the
// address the ingress has outside the cluster: the node port that the
// suite's kind config maps to 127.0.0.1, or --ingress-address. It is an
// extended feature: a cluster whose ingress this machine cannot reach does
// not claim it.
var hostTLSFeature = harness.Feature{
	Name: hostTLSIngress, Kind: "matrix", Support: harness.Extended, Manifests: []string{"opeaistio/istio-gateway-and-virtual-service.yaml", "opeaistio/istio-gateway-ca-and-cert.yaml"},
	Body: func(r *harness.Run, name string, b *features.FeatureBuilder) *features.FeatureBuilder {
		return b.
			Assess("matching-sni-serves-issued-certificate", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
				issued, pemBytes, err := issuedCertificate(ctx, r)
				if err == nil {
					err = hostGET(ctx, r, ingressAddress(r), GatewayHost, pemBytes, issued)
				}
				r.Check(ctx, t, name+"/matching-sni", err)
				return ctx
			}).
			Assess("other-sni-refused", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
				evidence, err := probe.TLSRefused(ctx, ingressAddress(r), OtherHost, GatewayHost, r.Opts.Timeouts.RequestTimeout)
				if err == nil {
					t.Logf("refused as expected: %s", evidence)
				}
				r.Check(ctx, t, name+"/other-sni", err)
				return ctx
			})
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

// hostGET sends GET /home with SNI host, trusting only the issued
// certificate, retried (bounded) until the gateway has the credential, and
// checks the served leaf is the issued certificate.
func hostGET(ctx context.Context, r *harness.Run, addr, host string, caPEM []byte, issued *x509.Certificate) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("the issued certificate is not PEM")
	}
	client := &http.Client{Timeout: r.Opts.Timeouts.RequestTimeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{ServerName: host, RootCAs: pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	to := r.Opts.Timeouts
	deadline := time.Now().Add(to.MaxTimeToConsistency)
	maxAttempts := int(to.MaxTimeToConsistency/to.RoundInterval) + 1
	var last error
	for attempt := 1; attempt <= maxAttempts && time.Now().Before(deadline); attempt++ {
		last = func() error {
			resp, err := client.Get("https://" + host + "/home")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("HTTP %d", resp.StatusCode)
			}
			if !bytes.Equal(resp.TLS.PeerCertificates[0].Raw, issued.Raw) {
				return fmt.Errorf("the gateway served %q, not the issued certificate", resp.TLS.PeerCertificates[0].Subject)
			}
			return nil
		}()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(to.RoundInterval):
		}
	}
	return fmt.Errorf("https://%s/home via %s: %w", host, addr, last)
}
