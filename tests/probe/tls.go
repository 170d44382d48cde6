package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// TLSRefused checks that a TLS server at addr refuses a handshake for sni
// while it completes one for served, a name it has a server for: the
// refusal then comes from TLS itself, not from a closed port, a proxy that
// accepts and hangs up with nothing behind it, or an unreachable address.
// It returns the refused handshake's error as evidence, or why the check
// failed.
func TLSRefused(ctx context.Context, addr, sni, served string, timeout time.Duration) (evidence string, err error) {
	if _, err := handshake(ctx, addr, served, timeout); err != nil {
		return "", fmt.Errorf("no TLS server answers at %s for %s (%w): a refusal of %s would show nothing", addr, served, err, sni)
	}
	subject, herr := handshake(ctx, addr, sni, timeout)
	switch {
	case herr == nil:
		return "", fmt.Errorf("%s completed a TLS handshake for SNI %s (served %q); it has no server for that host", addr, sni, subject)
	case errors.Is(herr, context.DeadlineExceeded):
		return "", fmt.Errorf("the TLS handshake with %s for SNI %s timed out (%w): a refusal ends the handshake, a hang is not one", addr, sni, herr)
	}
	return herr.Error(), nil
}

// handshake dials addr and completes a TLS handshake for sni, returning the
// served certificate's subject.
func handshake(ctx context.Context, addr, sni string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("no TCP connection: %w", err)
	}
	defer raw.Close()
	conn := tls.Client(raw, &tls.Config{ServerName: sni, InsecureSkipVerify: true}) //nolint:gosec // which name is served is the point, not trust
	if err := conn.HandshakeContext(ctx); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("%w: %v", context.DeadlineExceeded, err)
		}
		return "", err
	}
	return conn.ConnectionState().PeerCertificates[0].Subject.String(), nil
}
