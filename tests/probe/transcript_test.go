package probe_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/probe"
	"github.com/secure-inference/mesh-conformance/tests/probe/probetest"
)

// The same requests, once through the real script and curl against local
// servers and once through probetest scripted with what those servers
// answer, print the same transcript (but for how curl's transfers end:
// their order and write-out) and parse to the same outcomes. So the tests
// that run the engine and the disruption loop on probetest read the very
// stream a pod prints: the bodies' heads cut by each transfer's size, the
// excerpt limits, the found lines.
func TestScriptedTranscriptParsesAsRealCurls(t *testing.T) {
	probe.RequireCurl(t)
	long := strings.Repeat("envoy_server_uptime 1\n", 300) + `istio_requests_total{destination_service="sklearn-iris"} 3` + "\n"
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"name":"sklearn-iris","ready":true}`)
	})
	mux.HandleFunc("/rbac", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, "RBAC: access denied")
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Location", "https://chatqna.intel.com/")
		w.WriteHeader(http.StatusMovedPermanently)
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, long)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	// What each server answers, as probetest is told it; a failed
	// transfer's curl message is the fake's own, so only its presence is
	// compared.
	ok := probetest.Answer{Code: 200, Body: `{"name":"sklearn-iris","ready":true}`}
	cases := []struct {
		req    probe.Request
		answer probetest.Answer
	}{
		{probe.Request{URL: srv.URL + "/ok?who=it's"}, ok},
		{probe.Request{URL: srv.URL + "/rbac"}, probetest.Answer{Code: 403, Body: "RBAC: access denied"}},
		{probe.Request{URL: "http://" + probe.ClosedPort(t) + "/"}, probetest.Answer{Exit: 7}},
		// A body longer than any excerpt, searched whole, beside one that
		// asks for more: the script cuts every head at the largest limit,
		// Parse each at its own.
		{probe.Request{URL: srv.URL + "/metrics", Find: []string{"sklearn-iris", "neural-chat", "it's"}},
			probetest.Answer{Code: 200, Body: long}},
		{probe.Request{URL: srv.URL + "/metrics?all", BodyBytes: 4096}, probetest.Answer{Code: 200, Body: long}},
		{probe.Request{URL: "http://" + probe.ResetListener(t, true) + "/"}, probetest.Answer{Exit: 56}},
		{probe.Request{URL: srv.URL + "/redirect"}, probetest.Answer{Code: 301, RedirectURL: "https://chatqna.intel.com/"}},
		{probe.Request{URL: "http://" + probe.ResetListener(t, false) + "/"}, probetest.Answer{Exit: 52}},
		{probe.Request{URL: srv.URL + "/ok"}, ok},
	}
	client := probe.Pod{Name: "client"}
	reqs := make([]probe.Request, len(cases))
	answers := map[string][]probetest.Answer{}
	for i, c := range cases {
		reqs[i] = c.req
		answers[client.Name+" "+c.req.URL] = []probetest.Answer{c.answer}
	}
	scripted := probetest.New(answers)
	cmd := []string{"sh", "-c", probe.Script(reqs, 5*time.Second)}
	ctx := context.Background()

	real, _, err := probe.LocalExecutor{}.Exec(ctx, client, cmd)
	require.NoError(t, err)
	fake, _, err := scripted.Exec(ctx, client, cmd)
	require.NoError(t, err)
	assert.Equal(t, withoutTransferEnds(string(real)), withoutTransferEnds(string(fake)),
		"the transcripts but for how the transfers ended\nreal:\n%s\nscripted:\n%s", real, fake)

	realOuts := probe.Parse(string(real), len(reqs))
	fakeOuts := probe.Parse(string(fake), len(reqs))
	for i, c := range cases {
		r, f := realOuts[i], fakeOuts[i]
		assert.Equal(t, r.Kind, f.Kind, "%s: kind; real %s, scripted %s", c.req, r.Detail(), f.Detail())
		assert.Equal(t, r.HTTPCode, f.HTTPCode, "%s: HTTP status", c.req)
		assert.Equal(t, r.ExitCode, f.ExitCode, "%s: curl exit", c.req)
		assert.Equal(t, r.Body, f.Body, "%s: body excerpt", c.req)
		assert.Equal(t, r.RedirectURL, f.RedirectURL, "%s: redirect", c.req)
		assert.Equal(t, r.Found, f.Found, "%s: found", c.req)
		assert.Equal(t, r.ErrorMessage == "", f.ErrorMessage == "", "%s: an error message or none; real %q, scripted %q",
			c.req, r.ErrorMessage, f.ErrorMessage)
	}
	// The cases above are worth comparing only if they differ.
	assert.Equal(t, probe.KindReset, realOuts[5].Kind, realOuts[5].Detail())
	assert.Equal(t, []string{"sklearn-iris"}, realOuts[3].Found)
	assert.Len(t, realOuts[3].Body, 512, "the default excerpt")
	assert.Len(t, realOuts[4].Body, 4096, "the wider excerpt, of a longer body")
}

// transferEnd is the part of the script's output that tells how each
// transfer ended: curl writes it as each one ends, in the order they end,
// with timings and ports; and curl's own exit, that of the last transfer to
// fail.
var transferEnd = regexp.MustCompile(`(?m)^@@mc (\d+ exit|\d+ wo|all curl) .*\n`)

func withoutTransferEnds(transcript string) string {
	return transferEnd.ReplaceAllString(transcript, "")
}
