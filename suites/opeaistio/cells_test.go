package opeaistio

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
)

func TestOPEAMatrix(t *testing.T) {
	for _, mode := range dataplane.Modes {
		m := IngressAndMTLS(mode, Gateway{Address: "10.96.0.10", CACertPEM: "PEM"})
		byName := map[string]matrix.Cell{}
		for _, c := range m.Cells {
			byName[c.Name] = c
		}
		assert.Equal(t, matrix.DeniedL4, byName["outside-mesh-to-chatqna-nginx"].Expect.Kind, mode)
		assert.Equal(t, []string{"chatqna.intel.com:443:10.96.0.10"}, byName["https-matching-sni"].Request.Resolve)
		assert.Equal(t, "PEM", byName["https-matching-sni"].Request.CACertPEM)
		assert.True(t, byName["https-other-sni-refused"].Request.Insecure)
		assert.Equal(t, "https://", byName["http-redirects-to-https"].Expect.LocationPrefix)
	}
}

func TestOPEAChatQnAQueryIsTheDocumentsRequest(t *testing.T) {
	c := ChatQnAQuery(Gateway{Address: "10.96.0.10", CACertPEM: "PEM"})
	assert.Equal(t, "POST https://chatqna.intel.com/v1/chatqna", c.Request.String())
	assert.JSONEq(t, `{"messages": "What is the TLS?"}`, c.Request.Body)
	assert.Equal(t, []string{"chatqna.intel.com:443:10.96.0.10"}, c.Request.Resolve)
	assert.Equal(t, "PEM", c.Request.CACertPEM, "the issued certificate, not -k")
	assert.Equal(t, matrix.Allowed, c.Expect.Kind)
}
