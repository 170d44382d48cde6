package opeaistio

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// The host-side cells run curl on this machine through the engine's rounds:
// against a gateway-like server on loopback that serves *.intel.com only,
// they pass with the issued certificate, and fail when the server presents
// another certificate.
func TestHostTLSCellsRunOnThisMachine(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("host-side cells run curl on this machine: %v", err)
	}
	issued, issuedPEM := selfSigned(t, "*.intel.com")
	addr := sniGateway(t, issued)
	s := matrix.Settings{RequestTimeout: 3 * time.Second, MaxTimeToConsistency: 3 * time.Second, RequiredConsecutiveSuccesses: 1, RoundInterval: 100 * time.Millisecond}
	local := func(_ context.Context, c matrix.Client) (probe.Pod, error) {
		require.True(t, c.Local, "only the host client runs here")
		return probe.Pod{Local: true}, nil
	}
	res := matrix.Run(context.Background(), HostTLS(addr, issuedPEM), probe.PodExecutor{}, local, s)
	require.True(t, res.Passed(), res.Table())

	_, otherPEM := selfSigned(t, "*.intel.com")
	res = matrix.Run(context.Background(), HostTLS(addr, otherPEM), probe.PodExecutor{}, local, s)
	require.False(t, res.Passed(), "a gateway serving a certificate other than the issued one fails the cell")
	assert.Equal(t, "host-https-matching-sni", res.Failed()[0].Name)
}

// sniGateway serves /home over TLS on loopback with cert for *.intel.com
// names, and refuses the handshake for any other name, as the Gateway's
// server block does.
func sniGateway(t *testing.T, cert tls.Certificate) string {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	srv.TLS = &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if strings.HasSuffix(h.ServerName, ".intel.com") {
			return &cert, nil
		}
		return nil, fmt.Errorf("no certificate for %q", h.ServerName)
	}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func selfSigned(t *testing.T, dnsName string) (tls.Certificate, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: dnsName},
		DNSNames: []string{dnsName}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	require.NoError(t, err)
	return cert, string(certPEM)
}
