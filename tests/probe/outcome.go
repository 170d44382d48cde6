package probe

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is what became of a request, decided from curl's exit code and its
// write-out fields, never from the wording of its messages.
type Kind string

const (
	// KindHTTP: a response arrived; Outcome.HTTPCode holds its status.
	KindHTTP Kind = "http"
	// KindDNS: the host name did not resolve (curl 6).
	KindDNS Kind = "dns-failure"
	// KindRefused: the TCP connection could not be made (curl 7): refused,
	// or no route to the address.
	KindRefused Kind = "connection-refused"
	// KindTimeout: the request outlived its time limit (curl 28).
	KindTimeout Kind = "timeout"
	// KindReset: the connection broke while receiving or sending (curl 55,
	// 56): typically a reset by a proxy that refuses the peer; over TLS 1.3
	// also a server's alert after the client's side of the handshake ended
	// (certificate_required to a client without a certificate arrives at
	// the first read: curl 8.11.1 lib/vtls/openssl.c, SSL_read failing is
	// CURLE_RECV_ERROR).
	KindReset Kind = "connection-reset"
	// KindEOF: the server closed the connection without replying (curl 52).
	KindEOF Kind = "empty-reply"
	// KindTLSHandshake: the TLS handshake failed (curl 35): no certificate
	// for the SNI, protocol mismatch, a server that requires a client
	// certificate (TLS 1.2 refuses it within the handshake), or a reset
	// during the handshake.
	KindTLSHandshake Kind = "tls-handshake-failure"
	// KindTLSName: the chain was trusted but its names do not cover the host
	// (curl 51, or 60 with a clean X509 verify result).
	KindTLSName Kind = "tls-name-mismatch"
	// KindTLSUntrusted: the certificate chain did not verify (curl 60).
	KindTLSUntrusted Kind = "tls-untrusted"
	// KindClientError: the probe itself failed (no curl in the container, a
	// malformed request, the exec broke off): says nothing about the target.
	KindClientError Kind = "client-error"
	// KindOther: any other curl failure.
	KindOther Kind = "other"
)

// OpenSSL verify results that curl reports (ssl_verify_result) with exit 60
// when the chain is trusted but the name is not: X509_V_OK,
// X509_V_ERR_UNSPECIFIED (curl 7.88 with OpenSSL 3, measured) and
// X509_V_ERR_HOSTNAME_MISMATCH. Chain failures carry their own codes
// (18 self-signed, 19/20 unknown issuer, 10 expired, ...).
const (
	x509OK               = 0
	x509Unspecified      = 1
	x509HostnameMismatch = 62
)

// Outcome is the classified result of one request, with curl's evidence.
type Outcome struct {
	Kind     Kind
	HTTPCode int
	// Found are the request's Find strings that the whole body contains.
	Found []string
	Evidence
}

// Evidence is what curl reported, kept for reports and failure tables.
type Evidence struct {
	ExitCode        int
	ErrorMessage    string
	RemoteIP        string
	RedirectURL     string
	SSLVerifyResult int
	TimeTotal       float64
	// TimeToFirstByte is curl's time_starttransfer: how long until the
	// first byte of the answer (a cold start's wait).
	TimeToFirstByte float64
	// Body is the start of the response body (512 bytes unless the request
	// asked for more with BodyBytes), made printable.
	Body string
}

// String is the short observation shown in tables: "HTTP 403",
// "connection-reset (curl 56)".
func (o Outcome) String() string {
	if o.Kind == KindHTTP {
		return fmt.Sprintf("HTTP %d", o.HTTPCode)
	}
	return fmt.Sprintf("%s (curl %d)", o.Kind, o.ExitCode)
}

// Detail is one line of evidence for a failure report.
func (o Outcome) Detail() string {
	parts := []string{fmt.Sprintf("curl exit %d", o.ExitCode)}
	if o.HTTPCode != 0 {
		parts = append(parts, fmt.Sprintf("status %d", o.HTTPCode))
	}
	if o.ErrorMessage != "" {
		parts = append(parts, fmt.Sprintf("error %q", o.ErrorMessage))
	}
	if o.RedirectURL != "" {
		parts = append(parts, "location "+o.RedirectURL)
	}
	if o.RemoteIP != "" {
		parts = append(parts, "remote "+o.RemoteIP)
	}
	if o.Body != "" {
		parts = append(parts, fmt.Sprintf("body %q", truncate(o.Body, 120)))
	}
	return strings.Join(parts, ", ")
}

// Classify decides the Kind from curl's exit code and write-out fields.
func Classify(exitCode, httpCode, sslVerifyResult int) Kind {
	switch exitCode {
	case 0:
		if httpCode > 0 {
			return KindHTTP
		}
		return KindOther
	case 5, 6:
		return KindDNS
	case 7:
		return KindRefused
	case 28:
		return KindTimeout
	case 52:
		return KindEOF
	case 55, 56:
		return KindReset
	case 35:
		return KindTLSHandshake
	case 51:
		return KindTLSName
	case 60:
		// curl checks the name itself after OpenSSL accepted the chain.
		switch sslVerifyResult {
		case x509OK, x509Unspecified, x509HostnameMismatch:
			return KindTLSName
		}
		return KindTLSUntrusted
	case 1, 2, 3, 23, 27, 43, 58, 77, 126, 127:
		// unsupported protocol, init failure, bad URL, write error, out of
		// memory, bad internal call, bad client cert or CA file, and the
		// shell's "cannot execute" / "not found". curl also exits 1 for a
		// reply that is not HTTP/1.x ("Received HTTP/0.9 when not
		// allowed", curl 8.11.1 lib/http.c): a plaintext request to a TLS
		// port that answers with an alert record. That says the request
		// spoke the wrong protocol, nothing about the port's policy, so a
		// TLS port is probed with TLS (bypass.Port.TLS).
		return KindClientError
	default:
		return KindOther
	}
}

// writeOut holds the %{json} fields the classifier reads.
type writeOut struct {
	HTTPCode        int     `json:"http_code"`
	ErrorMessage    string  `json:"errormsg"`
	RemoteIP        string  `json:"remote_ip"`
	RedirectURL     string  `json:"redirect_url"`
	SSLVerifyResult int     `json:"ssl_verify_result"`
	TimeTotal       float64 `json:"time_total"`
	TimeStart       float64 `json:"time_starttransfer"`
	// SizeDownload is the body's length as written to its file: where its
	// head starts in the script's one stream of bodies.
	SizeDownload int64 `json:"size_download"`
}

// Parse reads the output of Script for n requests. A request whose result
// is missing (the exec broke off, the shell failed) gets a KindClientError
// outcome that says so, with the stray output as evidence.
func Parse(output string, n int) []Outcome {
	type raw struct {
		exit       int
		haveExit   bool
		limit      int
		wo         string
		body       []byte
		decoded    writeOut
		decodedErr bool
		found      string
	}
	raws := make([]raw, n)
	var stray []string
	var bodies string
	curlExit, haveCurlExit := 0, false
	sc := bufio.NewScanner(strings.NewReader(output))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	inBodies := false
	var bodyLines strings.Builder
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		if inBodies && !strings.HasPrefix(line, resultMarker+" ") {
			bodyLines.WriteString(strings.TrimSpace(line)) // base64's own lines
			continue
		}
		fields := strings.SplitN(line, " ", 4)
		if fields[0] != resultMarker || len(fields) < 3 {
			stray = append(stray, line)
			continue
		}
		value := ""
		if len(fields) == 4 {
			value = fields[3]
		}
		if fields[1] == "all" {
			switch fields[2] {
			case "curl":
				if v, err := strconv.Atoi(strings.TrimSpace(value)); err == nil {
					curlExit, haveCurlExit = v, true
				}
			case "bodies":
				inBodies = true
			case "end":
				inBodies, bodies = false, bodyLines.String()
			default:
				stray = append(stray, line)
			}
			continue
		}
		id, err := strconv.Atoi(fields[1])
		if err != nil || id < 0 || id >= n {
			stray = append(stray, line)
			continue
		}
		r := &raws[id]
		switch fields[2] {
		case "exit":
			if r.exit, err = strconv.Atoi(strings.TrimSpace(value)); err == nil {
				r.haveExit = true
			}
		case "limit":
			r.limit, _ = strconv.Atoi(strings.TrimSpace(value))
		case "wo":
			r.wo = value
		case "found":
			r.found = value
		default:
			stray = append(stray, line)
		}
	}
	for i := range raws {
		r := &raws[i]
		if r.wo != "" && json.Unmarshal([]byte(r.wo), &r.decoded) != nil {
			r.decoded, r.decodedErr = writeOut{ErrorMessage: "unreadable curl write-out: " + truncate(r.wo, 200)}, true
		}
	}
	// The stream of bodies: each body's head, in request order, cut by its
	// size_download; once a request's size is unknown (no write-out), the
	// rest cannot be placed and stay empty.
	if blob, err := base64.StdEncoding.DecodeString(bodies); err == nil && len(blob) > 0 {
		most := 0
		for _, r := range raws {
			most = max(most, r.limit)
		}
		for i := range raws {
			r := &raws[i]
			if r.wo == "" || r.decodedErr || r.decoded.SizeDownload < 0 {
				break
			}
			take := int(min(r.decoded.SizeDownload, int64(most)))
			if take > len(blob) {
				break
			}
			body := blob[:take]
			blob = blob[take:]
			if r.limit > 0 && len(body) > r.limit {
				body = body[:r.limit]
			}
			r.body = body
		}
	}

	out := make([]Outcome, n)
	for i, r := range raws {
		if !r.haveExit && haveCurlExit && r.wo == "" {
			// curl wrote nothing for this transfer: it did not run at all
			// (not installed, a bad option), and its own exit says why.
			r.exit, r.haveExit = curlExit, curlExit != 0
		}
		if !r.haveExit {
			msg := "no result from the probe script"
			if len(stray) > 0 {
				msg += ": " + truncate(strings.Join(stray, " | "), 300)
			}
			out[i] = Outcome{Kind: KindClientError, Evidence: Evidence{ExitCode: -1, ErrorMessage: msg}}
			continue
		}
		w := r.decoded
		o := Outcome{
			Kind:     Classify(r.exit, w.HTTPCode, w.SSLVerifyResult),
			HTTPCode: w.HTTPCode,
			Evidence: Evidence{
				ExitCode:        r.exit,
				ErrorMessage:    w.ErrorMessage,
				RemoteIP:        w.RemoteIP,
				RedirectURL:     w.RedirectURL,
				SSLVerifyResult: w.SSLVerifyResult,
				TimeTotal:       w.TimeTotal,
				TimeToFirstByte: w.TimeStart,
				Body:            printable(r.body),
			},
		}
		if found, err := base64.StdEncoding.DecodeString(r.found); err == nil {
			for _, f := range strings.Split(string(found), "\n") {
				if f != "" {
					o.Found = append(o.Found, f)
				}
			}
		}
		if r.exit == 127 && o.ErrorMessage == "" {
			o.ErrorMessage = "curl is not installed in the client container"
		}
		out[i] = o
	}
	return out
}

// printable turns a body excerpt into valid UTF-8 without control bytes.
func printable(b []byte) string {
	var s strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		switch {
		case r == utf8.RuneError && size <= 1:
			s.WriteRune('\uFFFD')
		case r == '\n' || r == '\t' || r >= 0x20 && r != 0x7f:
			s.WriteRune(r)
		default:
			s.WriteRune('.')
		}
	}
	return strings.TrimSpace(s.String())
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
