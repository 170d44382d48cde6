package apiserver

import "crypto/tls"

// insecureTLS is for the readiness poll of a server this package started on
// 127.0.0.1 with a certificate it generated a moment ago.
func insecureTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true} } //nolint:gosec
