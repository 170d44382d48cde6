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

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	kindconfig "github.com/secure-inference/mesh-conformance/kind-config"
	"github.com/secure-inference/mesh-conformance/tests/cases"
)

// hostTLSFeature probes TLS ingress from the test process on the host,
// through the node port that the suite's kind config maps to 127.0.0.1.
func hostTLSFeature() features.Feature {
	addr := fmt.Sprintf("127.0.0.1:%d", kindconfig.OPEAHostHTTPSPort)
	return run.Feature("host-tls-ingress", "matrix").
		Assess("matching-sni-serves-issued-certificate", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			if run.Kind == nil || run.Opts.Cluster.KindConfig != "" {
				run.Report.Skip(suite, "host-tls-ingress", "needs the suite's own kind config, which maps the gateway's node port to the host")
				t.Skip("host probe needs the suite's kind cluster")
			}
			issued, pemBytes, err := issuedCertificate(ctx)
			if err == nil {
				err = hostGET(ctx, addr, cases.GatewayHost, pemBytes, issued)
			}
			run.Check(t, "host-tls-ingress/matching-sni", err)
			return ctx
		}).
		Assess("other-sni-refused", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			if run.Kind == nil || run.Opts.Cluster.KindConfig != "" {
				t.Skip("host probe needs the suite's kind cluster")
			}
			conn, err := tlsDial(ctx, addr, cases.OtherHost, &tls.Config{ServerName: cases.OtherHost, InsecureSkipVerify: true}) //nolint:gosec // refusal is the point
			if err == nil {
				conn.Close()
				err = fmt.Errorf("the gateway completed a TLS handshake for SNI %s; it has no server for that host", cases.OtherHost)
			} else {
				t.Logf("refused as expected: %v", err)
				err = nil
			}
			run.Check(t, "host-tls-ingress/other-sni", err)
			return ctx
		}).Feature()
}

func tlsDial(ctx context.Context, addr, sni string, cfg *tls.Config) (*tls.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, run.Opts.Timeouts.RequestTimeout)
	defer cancel()
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return c.(*tls.Conn), nil
}

// hostGET sends GET /home with SNI host, trusting only the issued
// certificate, retried (bounded) until the gateway has the credential, and
// checks the served leaf is the issued certificate.
func hostGET(ctx context.Context, addr, host string, caPEM []byte, issued *x509.Certificate) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("the issued certificate is not PEM")
	}
	client := &http.Client{Timeout: run.Opts.Timeouts.RequestTimeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{ServerName: host, RootCAs: pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	deadline := time.Now().Add(run.Opts.Timeouts.MaxTimeToConsistency)
	var last error
	for attempt := 1; time.Now().Before(deadline); attempt++ {
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
		case <-time.After(run.Opts.Timeouts.RoundInterval):
		}
	}
	return fmt.Errorf("https://%s/home via %s: %w", host, addr, last)
}
