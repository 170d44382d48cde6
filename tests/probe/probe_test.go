package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The unit tier runs the very script a client pod runs, with real curl,
// against servers on 127.0.0.1 that behave like the mesh does.

const testTimeout = 2 * time.Second

func requireCurl(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("curl is needed by the unit tier: install it (apt-get install curl); .ci/run does so")
	}
}

// resetListener accepts connections, reads the request and resets them
// (SO_LINGER 0), as a sidecar does with a peer it refuses at L4.
func resetListener(t testing.TB, reset bool) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			_, _ = c.Read(buf)
			if reset {
				_ = c.(*net.TCPConn).SetLinger(0)
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// h2cOnlyServer serves HTTP/2 without TLS and nothing else, as a gRPC
// server does; it answers 200 "h2c".
func h2cOnlyServer(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Protocols: &protocols, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Proto)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func closedPort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// tlsServer serves HTTPS with a certificate for *.intel.com only, as the
// OPEA gateway does, and returns its address and CA (the self-signed cert).
func tlsServer(t testing.TB) (string, string) {
	cert, certPEM := selfSigned(t, "*.intel.com")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "ok")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), certPEM
}

// sniOnlyServer completes TLS only for SNI under *.intel.com and aborts the
// handshake otherwise, as Envoy does when no filter chain matches the SNI.
func sniOnlyServer(t testing.TB) string {
	cert, _ := selfSigned(t, "*.intel.com")
	cfg := &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if strings.HasSuffix(h.ServerName, ".intel.com") {
			return &cert, nil
		}
		return nil, fmt.Errorf("no certificate for %q", h.ServerName)
	}}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }),
		ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func selfSigned(t testing.TB, dnsName string) (tls.Certificate, string) {
	t.Helper()
	certPEM, keyPEM := mustSelfSignedPEM(t, dnsName)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	_, err = x509.ParseCertificate(cert.Certificate[0])
	require.NoError(t, err)
	return cert, string(certPEM)
}

// hermeticDNS runs the script in a mount namespace whose resolv.conf points
// at 127.0.0.1, so a name lookup fails without any packet leaving loopback.
type hermeticDNS struct{ resolvConf string }

func newHermeticDNS(t testing.TB) hermeticDNS {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	require.NoError(t, os.WriteFile(p, []byte("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"), 0o644))
	if err := exec.Command("unshare", "-m", "true").Run(); err != nil {
		t.Fatalf("the DNS-failure case needs unshare -m (root, util-linux) to keep lookups on loopback: %v", err)
	}
	return hermeticDNS{resolvConf: p}
}

func (h hermeticDNS) Exec(ctx context.Context, pod Pod, cmd []string) ([]byte, []byte, error) {
	script := fmt.Sprintf("mount --bind %s /etc/resolv.conf && exec %s", shellQuote(h.resolvConf),
		strings.Join(quoteAll(cmd), " "))
	return LocalExecutor{}.Exec(ctx, pod, []string{"unshare", "-m", "sh", "-c", script})
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = shellQuote(s)
	}
	return out
}

func TestClassifyRealCurl(t *testing.T) {
	requireCurl(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"name":"sklearn-iris","ready":true}`)
	})
	mux.HandleFunc("/rbac", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, "RBAC: access denied")
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://chatqna.intel.com/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(3 * testTimeout):
		}
	})
	mux.HandleFunc("/predict", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want a JSON POST", http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, `{"predictions":[0]}`)
	})
	plain := httptest.NewServer(mux)
	t.Cleanup(plain.Close)
	tlsAddr, caPEM := tlsServer(t)
	_, tlsPort, _ := net.SplitHostPort(tlsAddr)
	sniAddr := sniOnlyServer(t)
	h2c := h2cOnlyServer(t)
	_, sniPort, _ := net.SplitHostPort(sniAddr)

	cases := []struct {
		name     string
		req      Request
		kind     Kind
		code     int
		evidence func(t *testing.T, o Outcome)
	}{
		{name: "200", req: Request{URL: plain.URL + "/ok"}, kind: KindHTTP, code: 200,
			evidence: func(t *testing.T, o Outcome) { assert.Contains(t, o.Body, `"ready":true`) }},
		{name: "predict POST", req: Request{URL: plain.URL + "/predict", Headers: map[string]string{"Content-Type": "application/json"},
			Body: `{"instances":[[5.1,3.5,1.4,0.2]]}`}, kind: KindHTTP, code: 200},
		{name: "403 RBAC", req: Request{URL: plain.URL + "/rbac"}, kind: KindHTTP, code: 403,
			evidence: func(t *testing.T, o Outcome) { assert.Equal(t, "RBAC: access denied", o.Body) }},
		{name: "301 to https", req: Request{URL: plain.URL + "/redirect"}, kind: KindHTTP, code: 301,
			evidence: func(t *testing.T, o Outcome) { assert.Equal(t, "https://chatqna.intel.com/", o.RedirectURL) }},
		{name: "reset", req: Request{URL: "http://" + resetListener(t, true) + "/"}, kind: KindReset},
		{name: "empty reply", req: Request{URL: "http://" + resetListener(t, false) + "/"}, kind: KindEOF},
		{name: "refused", req: Request{URL: "http://" + closedPort(t) + "/"}, kind: KindRefused},
		{name: "timeout", req: Request{URL: plain.URL + "/slow"}, kind: KindTimeout},
		{name: "per-request timeout", req: Request{URL: plain.URL + "/slow", Timeout: 500 * time.Millisecond}, kind: KindTimeout,
			evidence: func(t *testing.T, o Outcome) { assert.Less(t, o.TimeTotal, 1.5, "the request's own limit applies") }},
		{name: "TLS ok with SNI", req: Request{URL: "https://chatqna.intel.com:" + tlsPort + "/",
			Resolve: []string{"chatqna.intel.com:" + tlsPort + ":127.0.0.1"}, CACertPEM: caPEM}, kind: KindHTTP, code: 200},
		{name: "TLS name mismatch", req: Request{URL: "https://chatqna.example.com:" + tlsPort + "/",
			Resolve: []string{"chatqna.example.com:" + tlsPort + ":127.0.0.1"}, CACertPEM: caPEM}, kind: KindTLSName},
		{name: "TLS untrusted", req: Request{URL: "https://chatqna.intel.com:" + tlsPort + "/",
			Resolve: []string{"chatqna.intel.com:" + tlsPort + ":127.0.0.1"}}, kind: KindTLSUntrusted},
		{name: "TLS refused for SNI", req: Request{URL: "https://chatqna.example.com:" + sniPort + "/", Insecure: true,
			Resolve: []string{"chatqna.example.com:" + sniPort + ":127.0.0.1"}}, kind: KindTLSHandshake},
		{name: "TLS insecure accepts", req: Request{URL: "https://chatqna.intel.com:" + sniPort + "/", Insecure: true,
			Resolve: []string{"chatqna.intel.com:" + sniPort + ":127.0.0.1"}}, kind: KindHTTP, code: 200},
		{name: "unknown host", req: Request{URL: "http://no-such-service.user1.svc.cluster.local/"}, kind: KindDNS},
		// A gRPC-like server answers HTTP/2 from the first byte.
		{name: "h2c server, HTTP/2 prior knowledge", req: Request{URL: "http://" + h2c + "/", HTTP2: true}, kind: KindHTTP, code: 200,
			evidence: func(t *testing.T, o Outcome) { assert.Equal(t, "HTTP/2.0", o.Body) }},
	}
	reqs := make([]Request, len(cases))
	for i, c := range cases {
		reqs[i] = c.req
	}
	// One exec for every request, as a client pod does in a round.
	outs, err := Run(context.Background(), newHermeticDNS(t), Pod{}, reqs, testTimeout)
	require.NoError(t, err)
	require.Len(t, outs, len(cases))
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := outs[i]
			assert.Equal(t, c.kind, o.Kind, "classification; evidence: %s (verify %d)", o.Detail(), o.SSLVerifyResult)
			assert.Equal(t, c.code, o.HTTPCode, "HTTP status; evidence: %s", o.Detail())
			if c.kind != KindHTTP {
				assert.NotEmpty(t, o.ErrorMessage, "curl's error message is kept as evidence")
			}
			if c.evidence != nil {
				c.evidence(t, o)
			}
		})
	}
}

// Why an HTTP/2-only (gRPC) port is probed with HTTP2 set: an HTTP/1.1
// request to it is dropped by the server itself, which looks exactly like
// the mesh refusing it.
func TestHTTP1ToAnH2CServerLooksLikeARefusal(t *testing.T) {
	requireCurl(t)
	outs, err := Run(context.Background(), newHermeticDNS(t), Pod{}, []Request{{URL: "http://" + h2cOnlyServer(t) + "/"}}, testTimeout)
	require.NoError(t, err)
	assert.Contains(t, []Kind{KindReset, KindEOF}, outs[0].Kind, outs[0].Detail())
	assert.Equal(t, "GET http://x/ (h2c)", Request{URL: "http://x/", HTTP2: true}.String(), "tables say which requests were HTTP/2")
}

func TestMissingCurlIsAClientError(t *testing.T) {
	// PATH without curl: the shell answers 127, which must never read as a
	// verdict about the target.
	ex := envExecutor{env: []string{"PATH=/nonexistent"}}
	outs, err := Run(context.Background(), ex, Pod{}, []Request{{URL: "http://127.0.0.1:1/"}}, testTimeout)
	require.NoError(t, err)
	require.Len(t, outs, 1)
	assert.Equal(t, KindClientError, outs[0].Kind, outs[0].Detail())
}

type envExecutor struct{ env []string }

func (e envExecutor) Exec(ctx context.Context, _ Pod, cmd []string) ([]byte, []byte, error) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		return nil, nil, err
	}
	c := exec.CommandContext(ctx, sh, cmd[1:]...)
	c.Env = e.env
	out, err := c.Output()
	if _, ok := err.(*exec.ExitError); ok {
		err = nil
	}
	return out, nil, err
}

func TestParseMissingResults(t *testing.T) {
	// The exec broke off after request 0's write-out (so before the
	// bodies); the shell's complaint follows on stderr, as Run joins them.
	out := "@@mc 0 limit 512\n@@mc 1 limit 512\n\n@@mc 0 exit 0\n@@mc 0 wo {\"http_code\":200,\"size_download\":2}\n" +
		"\nsh: 3: something broke\n"
	outs := Parse(out, 2)
	assert.Equal(t, KindHTTP, outs[0].Kind)
	assert.Equal(t, 200, outs[0].HTTPCode)
	assert.Empty(t, outs[0].Body, "its body never came")
	assert.Equal(t, KindClientError, outs[1].Kind)
	assert.Contains(t, outs[1].ErrorMessage, "something broke")
}

func TestClassifyTable(t *testing.T) {
	cases := []struct {
		exit, code, verify int
		want               Kind
	}{
		{0, 200, 0, KindHTTP}, {0, 0, 0, KindOther}, {6, 0, 0, KindDNS}, {7, 0, 0, KindRefused},
		{28, 0, 0, KindTimeout}, {52, 0, 0, KindEOF}, {56, 0, 0, KindReset}, {55, 0, 0, KindReset},
		{35, 0, 0, KindTLSHandshake}, {51, 0, 0, KindTLSName}, {60, 0, 0, KindTLSName},
		{60, 0, 62, KindTLSName}, {60, 0, 1, KindTLSName}, {60, 0, 18, KindTLSUntrusted}, {127, 0, 0, KindClientError},
		{3, 0, 0, KindClientError}, {47, 0, 0, KindOther},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, Classify(c.exit, c.code, c.verify), "exit %d code %d verify %d", c.exit, c.code, c.verify)
	}
}

func TestScriptQuotesHostileInput(t *testing.T) {
	requireCurl(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Header.Get("X-Probe"))
	}))
	t.Cleanup(srv.Close)
	marker := filepath.Join(t.TempDir(), "pwned")
	hostile := fmt.Sprintf("it's $(touch %s) `touch %s`", marker, marker)
	outs, err := Run(context.Background(), LocalExecutor{}, Pod{}, []Request{{URL: srv.URL, Headers: map[string]string{"X-Probe": hostile}}}, testTimeout)
	require.NoError(t, err)
	assert.Equal(t, hostile, outs[0].Body)
	assert.NoFileExists(t, marker)
}

func mustSelfSignedPEM(t testing.TB, dnsName string) ([]byte, []byte) {
	t.Helper()
	certDER, key := newCert(t, dnsName)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: key})
}

// Evidence past the default excerpt (httpbin's /headers puts the client
// certificate after tracing headers) is seen only when the cell asks for it.
func TestBodyBytesWidensTheExcerpt(t *testing.T) {
	requireCurl(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 2000) + "URI=spiffe://example.org/ns/user1/sa/sleep"))
	}))
	defer srv.Close()
	outs, err := Run(context.Background(), LocalExecutor{}, Pod{}, []Request{
		{URL: srv.URL}, {URL: srv.URL, BodyBytes: 4096}, {URL: srv.URL, BodyBytes: 1 << 30}}, 5*time.Second)
	require.NoError(t, err)
	assert.Len(t, outs[0].Body, 512)
	assert.NotContains(t, outs[0].Body, "spiffe://")
	assert.Contains(t, outs[1].Body, "URI=spiffe://example.org/ns/user1/sa/sleep")
	assert.Contains(t, outs[2].Body, "spiffe://", "an oversized ask is capped, not refused")
}

// One client's requests run concurrently inside its exec (at most
// maxParallel at once) and come back in request order.
func TestRequestsOfOneExecRunConcurrently(t *testing.T) {
	requireCurl(t)
	// The server counts requests in flight: a count, not a clock, so a
	// loaded machine cannot make the test flake.
	var inFlight, most atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(300 * time.Millisecond)
		fmt.Fprint(w, r.URL.Path)
	}))
	defer srv.Close()
	var reqs []Request
	for i := 0; i < 2*maxParallel; i++ {
		reqs = append(reqs, Request{URL: fmt.Sprintf("%s/r%d", srv.URL, i)})
	}
	outs, err := Run(context.Background(), LocalExecutor{}, Pod{}, reqs, 5*time.Second)
	require.NoError(t, err)
	for i, o := range outs {
		assert.Equal(t, fmt.Sprintf("/r%d", i), o.Body, "in request order")
	}
	assert.Greater(t, most.Load(), int32(1), "requests of one exec overlap, not %d in a row", len(reqs))
	assert.LessOrEqual(t, most.Load(), int32(maxParallel), "bounded: at most %d at once", maxParallel)
}

// One curl writes every body; the script sends their heads back as one
// stream, which Parse cuts by each transfer's size: bodies stay with their
// requests across a failed transfer (no body) and bodies of every size.
func TestBodiesStayWithTheirRequests(t *testing.T) {
	requireCurl(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Repeat(r.URL.Path[1:], 300))
	}))
	defer srv.Close()
	reqs := []Request{{URL: srv.URL + "/a"}, {URL: "http://" + closedPort(t) + "/"}, {URL: srv.URL + "/b", BodyBytes: 100}, {URL: srv.URL + "/c"}}
	outs, err := Run(context.Background(), LocalExecutor{}, Pod{}, reqs, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("a", 300), outs[0].Body)
	assert.Equal(t, KindRefused, outs[1].Kind)
	assert.Empty(t, outs[1].Body)
	assert.Equal(t, strings.Repeat("b", 100), outs[2].Body, "its own, smaller excerpt")
	assert.Equal(t, strings.Repeat("c", 300), outs[3].Body)
}
