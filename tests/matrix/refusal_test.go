package matrix

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// A refusal is any of the ways a mesh refuses; the workload's own answer
// (any other status, a 503 that is not Envoy's upstream reset) is not one;
// a refusal whose body names a protected model fails; an observation
// matches whatever came back, except a probe that never ran.
func TestRefusalObservedAndHides(t *testing.T) {
	http := func(code int, body string) probe.Outcome {
		return probe.Outcome{Kind: probe.KindHTTP, HTTPCode: code, Evidence: probe.Evidence{Body: body}}
	}
	refused := Expect(AnyRefusal).WithHides("sklearn-iris")
	for name, o := range map[string]probe.Outcome{
		"refused":        {Kind: probe.KindRefused, Evidence: probe.Evidence{ExitCode: 7}},
		"reset":          {Kind: probe.KindReset, Evidence: probe.Evidence{ExitCode: 56}},
		"eof":            {Kind: probe.KindEOF, Evidence: probe.Evidence{ExitCode: 52}},
		"tls-handshake":  {Kind: probe.KindTLSHandshake, Evidence: probe.Evidence{ExitCode: 35}},
		"403":            http(403, "RBAC: access denied"),
		"envoy-503":      http(503, EnvoyUpstreamReset+". reset reason: connection termination"),
		"name-elsewhere": http(403, "RBAC: access denied for sklearn-other"),
	} {
		ok, why := refused.Match(o)
		assert.True(t, ok, "%s: %s", name, why)
	}
	for name, o := range map[string]probe.Outcome{
		"200":         http(200, `{"name":"sklearn-iris","ready":true}`),
		"404":         http(404, "not found"),
		"app-503":     http(503, "service unavailable"),
		"timeout":     {Kind: probe.KindTimeout, Evidence: probe.Evidence{ExitCode: 28}},
		"client":      {Kind: probe.KindClientError, Evidence: probe.Evidence{ExitCode: 127}},
		"http-0.9":    {Kind: probe.KindClientError, Evidence: probe.Evidence{ExitCode: 1, ErrorMessage: "Received HTTP/0.9 when not allowed"}},
		"403-names":   http(403, "RBAC: access denied to sklearn-iris"),
		"found-names": {Kind: probe.KindHTTP, HTTPCode: 403, Found: []string{"sklearn-iris"}, Evidence: probe.Evidence{Body: "RBAC: access denied"}},
	} {
		ok, why := refused.Match(o)
		assert.False(t, ok, name)
		assert.NotEmpty(t, why, name)
	}
	ok, why := refused.Match(http(403, "denied: sklearn-iris"))
	assert.False(t, ok)
	assert.Contains(t, why, `names ["sklearn-iris"]`)
	assert.Equal(t, `refused (refused/reset/EOF/TLS handshake/403/Envoy upstream-reset 503), body names none of ["sklearn-iris"]`, refused.String())

	observed := Expect(Observed)
	for _, o := range []probe.Outcome{http(200, "metrics"), http(404, ""), {Kind: probe.KindReset}, {Kind: probe.KindTimeout}} {
		ok, _ := observed.Match(o)
		assert.True(t, ok, o.String())
	}
	ok, _ = observed.Match(probe.Outcome{Kind: probe.KindClientError})
	assert.False(t, ok, "a probe that never ran observed nothing")

	assert.Equal(t, []string{"sklearn-iris"}, Named(probe.Outcome{Found: []string{"sklearn-iris"}}, []string{"sklearn-iris", "neural-chat", ""}))
	assert.Empty(t, Named(http(200, "envoy_server_uptime 1"), []string{"sklearn-iris"}))
}
