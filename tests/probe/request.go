// Package probe sends HTTP(S) requests with curl from inside a client pod and
// classifies what happened. All of one client's requests of a round run in a
// single exec (one shell script), so a round costs one API round trip per
// client, not one per request.
package probe

import (
	"fmt"
	"sort"
	"strconv"
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
	// Find are strings searched for in the whole response body, not only
	// in the excerpt: a metrics page names its models far past the
	// excerpt's bytes, and whether it does is the observation (the
	// bypass-paths feature). Outcome.Found lists those present.
	Find []string
	// HTTP2 speaks HTTP/2 without TLS from the first byte (curl
	// --http2-prior-knowledge), as a gRPC client does: a gRPC server
	// answers that with an HTTP status, where an HTTP/1.1 request would
	// only be dropped (and look like a refusal).
	HTTP2 bool
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
func (r Request) String() string {
	if r.HTTP2 {
		return r.method() + " " + r.URL + " (h2c)"
	}
	return r.method() + " " + r.URL
}

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
	if r.HTTP2 {
		args = append(args, "--http2-prior-knowledge")
	}
	if caFile != "" {
		args = append(args, "--cacert", caFile)
	}
	// --url, not "--": in one command line of several transfers "--" would
	// end the options of every transfer after it.
	return append(args, "--url", r.URL)
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

// Script renders one POSIX shell script that runs every request with one
// curl process (--parallel, at most maxParallel transfers at a time), then
// prints, per request, curl's exit code and %{json} write-out (curl writes
// them as each transfer ends) and the excerpt limit, and, for all requests
// at once, the head of each body in request order, base64-encoded: Parse
// cuts it by each transfer's size_download. A handful of processes per
// round, whatever the number of requests: process start-up, not the
// network, is what a round of many requests costs in a pod. It needs sh,
// curl (7.75 or newer: --parallel, exitcode and errormsg in %{json}),
// mktemp, head and base64, and grep and tr for a request with Find: busybox
// and coreutils both have them.
func Script(reqs []Request, timeout time.Duration) string {
	var b strings.Builder
	b.WriteString(`set +e
t=$(mktemp -d 2>/dev/null) || { t=/tmp/mc.$$; mkdir -p "$t"; }
trap 'rm -rf "$t"' EXIT
`)
	most := 0
	for i, r := range reqs {
		fmt.Fprintf(&b, "printf %s\n", printfFormat(limitLine(i, strconv.Itoa(r.excerptBytes()))))
		most = max(most, r.excerptBytes())
	}
	var curl strings.Builder
	fmt.Fprintf(&curl, "curl -sS --parallel --parallel-immediate --parallel-max %d", maxParallel)
	for i, r := range reqs {
		ca := ""
		if r.CACertPEM != "" {
			ca = fmt.Sprintf("$t/ca%d.pem", i)
			fmt.Fprintf(&b, "printf '%%s' %s > \"%s\"\n", shellQuote(r.CACertPEM), ca)
		}
		if find := findList(r.Find); find != "" {
			fmt.Fprintf(&b, "printf '%%s\\n' %s > \"$t/f%d\"\n", find, i)
		}
		if i > 0 {
			curl.WriteString(" --next")
		}
		fmt.Fprintf(&curl, ` -o "$t/b%d" -w %s`, i, printfFormat(transferLines(i, "%{exitcode}", "%{json}")))
		for _, a := range r.curlArgs(timeout, ca) {
			curl.WriteByte(' ')
			if strings.HasPrefix(a, "$t/") {
				curl.WriteString(`"` + a + `"`)
			} else {
				curl.WriteString(shellQuote(a))
			}
		}
	}
	b.WriteString(curl.String())
	// The bodies' base64 lines go between two markers, unprefixed: one
	// process fewer than joining them.
	fmt.Fprintf(&b, " 2>/dev/null\nprintf %s \"$?\"\nprintf %s\n", printfFormat(curlExitLine("%s")), printfFormat(bodiesStart))
	fmt.Fprintf(&b, "head -q -c %d", most)
	for i := range reqs {
		fmt.Fprintf(&b, ` "$t/b%d"`, i)
	}
	fmt.Fprintf(&b, " 2>/dev/null | base64\nprintf %s\n", printfFormat(bodiesEnd))
	// Find searches the whole body, not only its head.
	for i, r := range reqs {
		if findList(r.Find) == "" {
			continue
		}
		fmt.Fprintf(&b, "printf %s\n", printfFormat(foundPrefix(i)))
		fmt.Fprintf(&b, `while IFS= read -r s; do grep -qF -e "$s" "$t/b%d" 2>/dev/null && printf '%%s\n' "$s"; done <"$t/f%d" | base64 | tr -d '\n'`+"\nprintf '\\n'\n", i, i)
	}
	return b.String()
}

// findStrings are the strings of find that the script searches for, one
// a line: a string with a line break could never be matched line by line,
// so it is dropped, and so is an empty one (it would match any body).
func findStrings(find []string) []string {
	var out []string
	for _, f := range find {
		if f != "" && !strings.ContainsAny(f, "\r\n") {
			out = append(out, f)
		}
	}
	return out
}

// findList renders findStrings as printf arguments.
func findList(find []string) string {
	var quoted []string
	for _, f := range findStrings(find) {
		quoted = append(quoted, shellQuote(f))
	}
	return strings.Join(quoted, " ")
}

// shellQuote quotes s for POSIX sh: single quotes, with each embedded single
// quote closed, escaped and reopened.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
