// Package probe sends HTTP(S) requests with curl from inside a client pod and
// classifies what happened. All of one client's requests of a round run in a
// single exec (one shell script), so a round costs one API round trip per
// client, not one per request.
package probe

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Request is one HTTP(S) request that a client makes with curl.
type Request struct {
	// Method defaults to GET, or POST when Body is set.
	Method string
	URL    string
	// Headers are sent as given. Tables and reports name a request by
	// method and URL only (String), so no header value reaches them.
	Headers map[string]string
	Body    string
	// Resolve pins host:port to an address (curl --resolve host:port:addr),
	// which is how a request carries an SNI that DNS does not know.
	Resolve []string
	// Insecure skips certificate verification (curl -k), as the OPEA document
	// does; the served certificate is then checked by other means.
	Insecure bool
	// CACertPEM, when set, is the only trusted CA for this request.
	CACertPEM string
	// Timeout, when set, replaces the run's request timeout for this
	// request (the baseline's timeout cell needs a short one).
	Timeout time.Duration
	// BodyBytes, when set, replaces how much of the response body is
	// brought back (bodyExcerptBytes), up to maxBodyBytes: a cell whose
	// evidence may lie deep in the body asks for more (httpbin's /headers
	// with tracing headers puts the client certificate past 512 bytes).
	BodyBytes int
}

// excerptBytes is how much of this request's response body is kept.
func (r Request) excerptBytes() int {
	switch {
	case r.BodyBytes <= 0:
		return bodyExcerptBytes
	case r.BodyBytes > maxBodyBytes:
		return maxBodyBytes
	default:
		return r.BodyBytes
	}
}

// method returns the HTTP method curl will use.
func (r Request) method() string {
	switch {
	case r.Method != "":
		return r.Method
	case r.Body != "":
		return "POST"
	default:
		return "GET"
	}
}

// String is the short form used in tables and reports: "GET http://host/path".
func (r Request) String() string { return r.method() + " " + r.URL }

// curlArgs renders the request as curl arguments (without the output and
// write-out options, which the script adds). caFile is the in-pod path the
// script wrote CACertPEM to.
func (r Request) curlArgs(timeout time.Duration, caFile string) []string {
	if r.Timeout > 0 {
		timeout = r.Timeout
	}
	secs := fmt.Sprintf("%.3f", timeout.Seconds())
	args := []string{"--max-time", secs, "--connect-timeout", secs, "-X", r.method()}
	keys := make([]string, 0, len(r.Headers))
	for k := range r.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-H", k+": "+r.Headers[k])
	}
	if r.Body != "" {
		args = append(args, "--data-raw", r.Body)
	}
	for _, res := range r.Resolve {
		args = append(args, "--resolve", res)
	}
	if r.Insecure {
		args = append(args, "-k")
	}
	if caFile != "" {
		args = append(args, "--cacert", caFile)
	}
	return append(args, "--", r.URL)
}

// bodyExcerptBytes bounds how much of each response body is brought back.
const bodyExcerptBytes = 512

// maxBodyBytes caps any request's excerpt: the script's output travels back
// through the exec stream and into reports.
const maxBodyBytes = 16 << 10

// resultMarker starts every line of the script's output that carries a
// result; anything else (a shell's complaint, say) is kept as stray output.
const resultMarker = "@@mc"

// maxParallel bounds how many of one client's requests run at once inside
// its exec: enough that a round costs about one request's time, few enough
// not to load a small client pod or look like a flood.
const maxParallel = 8

// Script renders one POSIX shell script that runs every request, at most
// maxParallel at a time, and prints, per request and in request order,
// curl's exit code, its %{json} write-out and a base64 excerpt of the body.
// It needs sh, curl (7.75 or newer, for errormsg and exitcode in %{json}),
// mktemp, head, tr, cat and base64: busybox and coreutils both have them.
func Script(reqs []Request, timeout time.Duration) string {
	var b strings.Builder
	b.WriteString(`set +e
t=$(mktemp -d 2>/dev/null) || { t=/tmp/mc.$$; mkdir -p "$t"; }
trap 'rm -rf "$t"' EXIT
mc() {
  id=$1; n=$2; shift 2
  curl -sS -o "$t/b$id" -w '%{json}' "$@" >"$t/w$id" 2>/dev/null
  rc=$?
  {
    printf '\n` + resultMarker + ` %s exit %s\n' "$id" "$rc"
    printf '` + resultMarker + ` %s wo ' "$id"; tr -d '\n' <"$t/w$id" 2>/dev/null; printf '\n'
    printf '` + resultMarker + ` %s body ' "$id"; head -c "$n" "$t/b$id" 2>/dev/null | base64 | tr -d '\n'; printf '\n'
  } >"$t/r$id"
  rm -f "$t/b$id" "$t/w$id"
}
`)
	for i, r := range reqs {
		ca := ""
		if r.CACertPEM != "" {
			ca = fmt.Sprintf("$t/ca%d.pem", i)
			fmt.Fprintf(&b, "printf '%%s' %s > \"%s\"\n", shellQuote(r.CACertPEM), ca)
		}
		fmt.Fprintf(&b, "mc %d %d", i, r.excerptBytes())
		for _, a := range r.curlArgs(timeout, ca) {
			b.WriteByte(' ')
			if strings.HasPrefix(a, "$t/") {
				b.WriteString(`"` + a + `"`)
			} else {
				b.WriteString(shellQuote(a))
			}
		}
		b.WriteString(" &\n")
		if (i+1)%maxParallel == 0 {
			b.WriteString("wait\n")
		}
	}
	b.WriteString("wait\n")
	for i := range reqs {
		fmt.Fprintf(&b, "cat \"$t/r%d\" 2>/dev/null\n", i)
	}
	return b.String()
}

// shellQuote quotes s for POSIX sh: single quotes, with each embedded single
// quote closed, escaped and reopened.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
