// Package matrix holds reachability matrices: which client may reach which
// target and how a refusal must look. It runs them in rounds until every
// cell has matched its expectation a number of times in a row, and renders
// expected against observed.
package matrix

import (
	"fmt"
	"strings"

	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// ExpectKind is the kind of outcome a cell expects.
type ExpectKind string

const (
	// Allowed: an HTTP 2xx response.
	Allowed ExpectKind = "allowed"
	// Redirect: an HTTP 301, 302, 307 or 308.
	Redirect ExpectKind = "redirect"
	// DeniedHTTP403: an HTTP 403, as a sidecar or waypoint answers when an
	// AuthorizationPolicy refuses the request.
	DeniedHTTP403 ExpectKind = "denied-http-403"
	// DeniedL4: the connection is reset or closed without a reply, as a
	// proxy does with a peer it refuses below HTTP (ztunnel's L4 policy, or a
	// plaintext client against STRICT mTLS).
	DeniedL4 ExpectKind = "denied-l4"
	// TLSRefused: the TLS handshake fails, as a gateway does for an SNI it
	// has no server for.
	TLSRefused ExpectKind = "tls-refused"
	// AnyRefusal: any way the mesh refuses a request it must not serve: the
	// connection refused (nothing listens, or a port bound to the pod's
	// localhost only), reset or closed without a reply (a sidecar's STRICT
	// mTLS against a plaintext peer, ztunnel), an HTTP 403 (the policy
	// refusing an identity), or the 503 a caller's own sidecar answers
	// when the target reset its connection (Envoy's local reply, whose
	// body starts with EnvoyUpstreamReset), or, on a TLS port probed
	// without a client certificate, a handshake that does not admit the
	// caller (a TLS alert during the handshake, curl 35; an alert after
	// it, as TLS 1.3 sends certificate_required, reads as a reset). A bypass
	// probe to a pod's port can meet any of them, depending on the port
	// and on the caller being in the mesh; what it must never get is the
	// workload's answer. Istio's own ambient tests accept the same set
	// (reset, EOF, 403, 503). A plaintext request never meets a TLS
	// handshake, so for it the set is unchanged.
	AnyRefusal ExpectKind = "refused"
	// Observed: any outcome in which a request was made (not a client
	// error) matches. An informational probe records what it saw, with no
	// verdict: the mesh's documented plaintext ports.
	Observed ExpectKind = "observed"
	// Baseline expectations: how a healthy network fails, so that the
	// classification is known to be right on this cluster.
	DNSFailure ExpectKind = "dns-failure"
	// ConnectionRefused: the TCP connection is refused (nothing listens),
	// that one way only; AnyRefusal is the set of every refusal.
	ConnectionRefused ExpectKind = "connection-refused"
	TimedOut          ExpectKind = "timeout"
)

// Expectation is what a cell must observe.
type Expectation struct {
	Kind ExpectKind
	// BodyContains, when set, must appear in the response body excerpt.
	BodyContains string
	// LocationPrefix, for Redirect, must start the Location header.
	LocationPrefix string
	// Hides are strings the body must not contain, searched in the
	// excerpt and, when the request asked for them (probe.Request.Find),
	// in the whole body: a refusal must not name the models it protects.
	Hides []string
	// Note explains a surprising expectation in reports, e.g. a documented
	// limitation that makes a request succeed.
	Note string
}

// EnvoyUpstreamReset starts the body of Envoy's local 503 when the
// upstream connection failed or was reset before a response.
const EnvoyUpstreamReset = "upstream connect error or disconnect/reset before headers"

// Expect builds an expectation of a kind.
func Expect(k ExpectKind) Expectation { return Expectation{Kind: k} }

// WithBody adds a required body excerpt.
func (e Expectation) WithBody(s string) Expectation { e.BodyContains = s; return e }

// WithNote adds an explanation for reports.
func (e Expectation) WithNote(s string) Expectation { e.Note = s; return e }

// WithHides adds strings the body must not contain.
func (e Expectation) WithHides(s ...string) Expectation { e.Hides = s; return e }

// WithLocation adds a required redirect target prefix.
func (e Expectation) WithLocation(prefix string) Expectation { e.LocationPrefix = prefix; return e }

// String is the short form shown in tables: "denied-http-403 (body ~ \"RBAC\")".
func (e Expectation) String() string {
	s := string(e.Kind)
	switch e.Kind {
	case Allowed:
		s = "allowed (2xx)"
	case Redirect:
		s = "redirect (3xx)"
	case DeniedHTTP403:
		s = "denied (HTTP 403)"
	case DeniedL4:
		s = "denied (reset/EOF)"
	case TLSRefused:
		s = "TLS refused"
	case AnyRefusal:
		s = "refused (refused/reset/EOF/TLS handshake/403/Envoy upstream-reset 503)"
	case Observed:
		s = "informational (any answer, recorded as a finding)"
	case DNSFailure, ConnectionRefused, TimedOut:
		s = string(e.Kind)
	}
	var extra []string
	if e.BodyContains != "" {
		extra = append(extra, fmt.Sprintf("body has %q", e.BodyContains))
	}
	if e.LocationPrefix != "" {
		extra = append(extra, "to "+e.LocationPrefix+"...")
	}
	if len(e.Hides) > 0 {
		extra = append(extra, fmt.Sprintf("body names none of %q", e.Hides))
	}
	if len(extra) > 0 {
		s += ", " + strings.Join(extra, ", ")
	}
	return s
}

// Match tells whether an outcome meets the expectation, and if not, why.
func (e Expectation) Match(o probe.Outcome) (bool, string) {
	kindOK := false
	switch e.Kind {
	case Allowed:
		kindOK = o.Kind == probe.KindHTTP && o.HTTPCode >= 200 && o.HTTPCode < 300
	case Redirect:
		kindOK = o.Kind == probe.KindHTTP && (o.HTTPCode == 301 || o.HTTPCode == 302 || o.HTTPCode == 307 || o.HTTPCode == 308)
	case DeniedHTTP403:
		kindOK = o.Kind == probe.KindHTTP && o.HTTPCode == 403
	case DeniedL4:
		kindOK = o.Kind == probe.KindReset || o.Kind == probe.KindEOF
	case TLSRefused:
		kindOK = o.Kind == probe.KindTLSHandshake
	case AnyRefusal:
		kindOK = o.Kind == probe.KindRefused || o.Kind == probe.KindReset || o.Kind == probe.KindEOF || o.Kind == probe.KindTLSHandshake ||
			o.Kind == probe.KindHTTP && (o.HTTPCode == 403 || o.HTTPCode == 503 && strings.HasPrefix(o.Body, EnvoyUpstreamReset))
	case Observed:
		kindOK = o.Kind != probe.KindClientError
	case DNSFailure:
		kindOK = o.Kind == probe.KindDNS
	case ConnectionRefused:
		kindOK = o.Kind == probe.KindRefused
	case TimedOut:
		kindOK = o.Kind == probe.KindTimeout
	default:
		return false, fmt.Sprintf("unknown expectation kind %q", e.Kind)
	}
	if !kindOK {
		return false, fmt.Sprintf("expected %s, observed %s", e, o)
	}
	if e.BodyContains != "" && !strings.Contains(o.Body, e.BodyContains) {
		return false, fmt.Sprintf("expected body to contain %q, got %q", e.BodyContains, o.Body)
	}
	if e.LocationPrefix != "" && !strings.HasPrefix(o.RedirectURL, e.LocationPrefix) {
		return false, fmt.Sprintf("expected a redirect to %s..., got %q", e.LocationPrefix, o.RedirectURL)
	}
	if named := Named(o, e.Hides); len(named) > 0 {
		return false, fmt.Sprintf("the body names %q, which it must not reveal (observed %s)", named, o)
	}
	return true, ""
}

// Named lists the strings of names that the outcome's body holds: in the
// excerpt, or anywhere in the body when the request searched for them.
func Named(o probe.Outcome, names []string) []string {
	var out []string
	for _, n := range names {
		if n == "" {
			continue
		}
		found := strings.Contains(o.Body, n)
		for _, f := range o.Found {
			found = found || f == n
		}
		if found {
			out = append(out, n)
		}
	}
	return out
}
