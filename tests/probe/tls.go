package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"
)

// TLSRefused checks that a TLS server at addr refuses a handshake for sni:
// the TCP connection must succeed (a closed port or an unreachable address
// proves nothing about TLS) and the handshake itself must then fail, as
// Envoy's does when no filter chain matches the SNI. It returns the
// handshake's error as evidence, or why the check failed.
func TLSRefused(ctx context.Context, addr, sni string, timeout time.Duration) (evidence string, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("no TCP connection to %s (%w): nothing there to refuse a handshake, so the refusal is not shown", addr, err)
	}
	defer raw.Close()
	conn := tls.Client(raw, &tls.Config{ServerName: sni, InsecureSkipVerify: true}) //nolint:gosec // the refusal is the point, not trust
	herr := conn.HandshakeContext(ctx)
	if herr == nil {
		return "", fmt.Errorf("%s completed a TLS handshake for SNI %s (served %q); it has no server for that host",
			addr, sni, conn.ConnectionState().PeerCertificates[0].Subject)
	}
	if ctx.Err() != nil {
		return "", fmt.Errorf("the TLS handshake with %s for SNI %s timed out (%w): a refusal ends the handshake, a hang is not one", addr, sni, herr)
	}
	return herr.Error(), nil
}
