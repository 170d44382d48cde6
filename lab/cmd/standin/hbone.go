package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/secure-inference/mesh-conformance/lab/internal/selfsigned"
)

// serveHBONE stands in for ztunnel's in-pod HBONE listener on addr (the
// bypass-paths lab test): TLS 1.3 only, ALPN h2, a client certificate
// required from a CA nobody holds, so no probe is admitted (ztunnel 1.27.1
// src/tls/certificate.rs server_config), and a connection whose first
// bytes are not TLS answered with a fatal decode_error alert record and
// closed, as rustls does (rustls v/0.23.26 rustls/src/conn.rs
// handle_deframe_error). With open, any client is admitted and served h:
// the broken port the cells must fail on.
func serveHBONE(addr string, open bool, h http.Handler) error {
	cert, err := selfsigned.Cert("ztunnel lab stand-in")
	if err != nil {
		return err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13, NextProtos: []string{"h2"}}
	if !open {
		cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, x509.NewCertPool()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, TLSConfig: cfg, ErrorLog: log.New(io.Discard, "", 0)}
	return srv.ServeTLS(alertOnPlaintext{ln}, "", "")
}

// decodeErrorAlert: record type alert (21), version 3.3 (rustls's
// build_alert), length 2, level fatal (2), decode_error (50).
var decodeErrorAlert = []byte{21, 3, 3, 0, 2, 2, 50}

// alertOnPlaintext passes on connections that start with a TLS handshake
// record (22) and answers any other with decodeErrorAlert and a close.
type alertOnPlaintext struct{ net.Listener }

func (l alertOnPlaintext) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		first := make([]byte, 1)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, first); err != nil {
			c.Close()
			continue
		}
		_ = c.SetReadDeadline(time.Time{})
		if first[0] == 22 {
			return &replayConn{Conn: c, first: first}, nil
		}
		_, _ = c.Write(decodeErrorAlert)
		c.Close()
	}
}

// replayConn gives back the byte alertOnPlaintext read before the rest.
type replayConn struct {
	net.Conn
	first []byte
}

func (c *replayConn) Read(b []byte) (int, error) {
	if len(c.first) > 0 {
		n := copy(b, c.first)
		c.first = c.first[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}
