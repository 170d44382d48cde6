package bypass

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// The ambient HBONE cell against local servers on port 15008, with the
// very cell Build makes, run by real curl through the probe script: a
// rustls-like listener (an alert record to plaintext, a client
// certificate required over TLS) is a refusal for the TLS probe and a
// client error for the plaintext probe the cell had; a Go TLS server that
// requires a client certificate refuses it in TLS 1.3 and in TLS 1.2; one
// that admits the caller and answers is the bypass.

const hboneTimeout = 3 * time.Second

// decodeErrorAlert is the record rustls writes before closing when the
// first bytes are not TLS (rustls v/0.23.26 rustls/src/conn.rs
// handle_deframe_error sends a fatal DecodeError; msgs/message/mod.rs
// build_alert gives it version TLSv1_2): type alert (21), version 3.3,
// length 2, level fatal (2), description decode_error (50).
var decodeErrorAlert = []byte{21, 3, 3, 0, 2, 2, 50}

// listenHBONE listens on port 15008 of a loopback address of its own (the
// cell's URL carries the port number, as a pod IP's does): 127.15.0.x, the
// first that is free.
func listenHBONE(t *testing.T) net.Listener {
	t.Helper()
	var err error
	for i := 1; i < 50; i++ {
		var ln net.Listener
		if ln, err = net.Listen("tcp", net.JoinHostPort("127.15.0."+strconv.Itoa(i), "15008")); err == nil {
			return ln
		}
	}
	t.Fatalf("no loopback address with port 15008 free: %v", err)
	return nil
}

// alertOnPlaintext passes on connections whose first byte starts a TLS
// handshake record (22) and answers any other with decodeErrorAlert and a
// close, as ztunnel's rustls does.
type alertOnPlaintext struct{ net.Listener }

func (l alertOnPlaintext) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		first := make([]byte, 1)
		_ = c.SetReadDeadline(time.Now().Add(hboneTimeout))
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

// hboneServer serves HTTPS on 15008 with HTTP/2, ALPN h2 only and TLS
// 1.2 or 1.3 only, as ztunnel's HBONE listener is configured (ztunnel
// 1.27.1 src/tls/certificate.rs server_config); with requireCert, a client
// certificate from a CA nobody has is required (crypto/tls
// RequireAndVerifyClientCert), so no probe is admitted; without, any
// client is, and the answer names the model. It returns the listener's IP.
func hboneServer(t *testing.T, version uint16, requireCert, rustlsLike bool) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"name":"neural-chat","proto":%q}`, r.Proto)
	}))
	srv.Listener.Close()
	ln := listenHBONE(t)
	if rustlsLike {
		ln = alertOnPlaintext{ln}
	}
	srv.Listener = ln
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = &tls.Config{MinVersion: version, MaxVersion: version, NextProtos: []string{"h2"}}
	if requireCert {
		srv.TLS.ClientAuth, srv.TLS.ClientCAs = tls.RequireAndVerifyClientCert, x509.NewCertPool()
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host, _, err := net.SplitHostPort(ln.Addr().String())
	require.NoError(t, err)
	return host
}

// hboneCell is the cell Build makes for ztunnel's in-pod 15008 of a pod
// with this IP, from a client outside the mesh.
func hboneCell(t *testing.T, ip string) matrix.Cell {
	t.Helper()
	target := Target{Workload: "chatqna-nginx", Models: []string{"neural-chat"}}
	pod := Sketched(target, dataplane.Ambient)
	pod.IP = ip
	p := Build("hbone", []TargetPods{{Target: target, Pods: []Pod{pod}}}, []matrix.Client{{Name: "outside"}})
	for _, c := range p.Enforced.Cells {
		if p.Probes[c.Name].Port.Number == 15008 {
			return c
		}
	}
	t.Fatalf("no 15008 cell in %v", p.Enforced.Cells)
	return matrix.Cell{}
}

func runCurl(t *testing.T, reqs ...probe.Request) []probe.Outcome {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("curl is needed by the unit tier: install it (apt-get install curl); .ci/run does so")
	}
	outs, err := probe.Run(context.Background(), probe.LocalExecutor{}, probe.Pod{}, reqs, hboneTimeout)
	require.NoError(t, err)
	require.Len(t, outs, len(reqs))
	return outs
}

func TestHBONEPortProbedWithTLS(t *testing.T) {
	// (a) ztunnel's answers: the plaintext probe the cell had is a client
	// error (the wrong verdict on a correct cluster), the TLS probe a
	// refusal.
	ip := hboneServer(t, tls.VersionTLS13, true, true)
	cell := hboneCell(t, ip)
	assert.Equal(t, "https://"+ip+":15008/", cell.Request.URL)
	assert.True(t, cell.Request.Insecure, "the server's certificate is not the question")
	assert.False(t, cell.Request.HTTP2, "curl's default ALPN offers h2 over TLS")
	assert.Equal(t, matrix.AnyRefusal, cell.Expect.Kind)
	plaintext := probe.Request{URL: "http://" + ip + ":15008/", Find: cell.Request.Find}
	outs := runCurl(t, plaintext, cell.Request)

	old := outs[0]
	assert.Equal(t, probe.KindClientError, old.Kind, old.Detail())
	assert.Equal(t, 1, old.ExitCode, old.Detail())
	assert.Contains(t, old.ErrorMessage, "HTTP/0.9", "curl took the alert record for an HTTP/0.9 reply")
	ok, why := cell.Expect.Match(old)
	assert.False(t, ok, "the plaintext probe can never pass on a correct cluster")
	t.Logf("plaintext probe (the bug): %s; %s", old.Detail(), why)

	tlsProbe := outs[1]
	ok, why = cell.Expect.Match(tlsProbe)
	assert.True(t, ok, "%s: %s", why, tlsProbe.Detail())
	assert.Equal(t, probe.KindReset, tlsProbe.Kind, "TLS 1.3: certificate_required arrives at the first read; %s", tlsProbe.Detail())
	t.Logf("TLS probe: %s", tlsProbe.Detail())

	// (b) A server that requires a client certificate refuses the probe
	// in TLS 1.3 (after the client's Finished) and in TLS 1.2 (within
	// the handshake, curl 35): both refusals.
	for _, v := range []struct {
		name    string
		version uint16
		kind    probe.Kind
	}{{"TLS 1.3", tls.VersionTLS13, probe.KindReset}, {"TLS 1.2", tls.VersionTLS12, probe.KindTLSHandshake}} {
		c := hboneCell(t, hboneServer(t, v.version, true, false))
		o := runCurl(t, c.Request)[0]
		assert.Equal(t, v.kind, o.Kind, "%s: %s", v.name, o.Detail())
		ok, why := c.Expect.Match(o)
		assert.True(t, ok, "%s: %s", v.name, why)
		assert.Empty(t, o.Body, v.name)
	}

	// (c) A port that admits a caller without a certificate and answers
	// it is a bypass: the cell fails, and its surface row says REACHABLE.
	openIP := hboneServer(t, tls.VersionTLS13, false, true)
	c := hboneCell(t, openIP)
	o := runCurl(t, c.Request)[0]
	require.Equal(t, probe.KindHTTP, o.Kind, o.Detail())
	assert.Equal(t, 200, o.HTTPCode)
	assert.Contains(t, o.Body, `"proto":"HTTP/2.0"`, "admitted with h2, as an HBONE client would be")
	ok, why = c.Expect.Match(o)
	assert.False(t, ok)
	assert.Contains(t, why, "expected refused")
	p := Plan{Probes: map[string]Probe{c.Name: {Target: Target{Workload: "chatqna-nginx", Models: []string{"neural-chat"}}, Port: Port{Number: 15008, TLS: true}}}}
	res := matrix.Result{Cells: []matrix.CellResult{{Cell: c, Attempts: 1, Last: o, Reason: why}}}
	rows := p.Surface(res, matrix.Result{})
	require.Len(t, rows, 1)
	assert.Equal(t, Reachable, rows[0].Verdict)
	assert.Equal(t, []string{"neural-chat"}, rows[0].Reveals)
	assert.Equal(t, "GET https://"+openIP+":15008/", rows[0].Request, "tables show the probe was TLS")
}

// The sidecar's 15008 stays a plaintext probe: it is refused whether or
// not Envoy listens there (ports.go, PlaintextPorts), and it sees an
// application's plaintext listener on the one uncaptured port, which a
// TLS probe would take for a failed handshake.
func TestSidecarHBONEPortStaysPlaintext(t *testing.T) {
	target := Target{Workload: "httpbin"}
	p := Build("b", []TargetPods{{Target: target, Pods: []Pod{Sketched(target, dataplane.Sidecar)}}}, []matrix.Client{{Name: "c"}})
	found := false
	for _, c := range p.Enforced.Cells {
		if p.Probes[c.Name].Port.Number == 15008 {
			found = true
			assert.Equal(t, "http://<pod-ip-of-httpbin>:15008/", c.Request.URL)
			assert.False(t, c.Request.Insecure)
		}
	}
	assert.True(t, found)

	// A plaintext application server on 15008 answers a TLS probe with
	// bytes that fail the handshake: for a TLS probe that is a refusal.
	ln := listenHBONE(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "app") }),
		ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	outs := runCurl(t, probe.Request{URL: "http://" + host + ":15008/"}, probe.Request{URL: "https://" + host + ":15008/", Insecure: true})
	assert.Equal(t, probe.KindHTTP, outs[0].Kind, "the plaintext probe sees the application: %s", outs[0].Detail())
	assert.Equal(t, probe.KindTLSHandshake, outs[1].Kind, "the TLS probe does not: %s", outs[1].Detail())
}
