package cases

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

func TestKServeIsolationIsTheDocumentsMatrix(t *testing.T) {
	m := KServeIsolation()
	got := map[string]matrix.ExpectKind{}
	for _, c := range m.Cells {
		got[c.Name] = c.Expect.Kind
	}
	assert.Equal(t, map[string]matrix.ExpectKind{
		"user1-to-sklearn-iris-status": matrix.Allowed, "user1-to-sklearn-iris-predict": matrix.Allowed,
		"default-to-sklearn-iris-status": matrix.DeniedHTTP403, "default-to-sklearn-iris-predict": matrix.DeniedHTTP403,
		"user1-to-sklearn-iris-burst-status": matrix.Allowed, "user1-to-sklearn-iris-burst-predict": matrix.Allowed,
		"default-to-sklearn-iris-burst-status": matrix.Allowed, "default-to-sklearn-iris-burst-predict": matrix.Allowed,
	}, got)
	for _, c := range m.Cells {
		if c.Client == KServeDefault && c.Expect.Kind == matrix.Allowed {
			assert.Contains(t, c.Expect.Note, "net-istio issue 554", "the activator bypass is reported as the documented limitation")
		}
		if c.Expect.Kind == matrix.DeniedHTTP403 {
			assert.Equal(t, "RBAC: access denied", c.Expect.BodyContains)
		}
	}
	assert.Equal(t, "http://sklearn-iris-predictor.user1.svc.cluster.local/v1/models/sklearn-iris", ModelRequest(SklearnIris).URL)
}

func TestOPEAMatrix(t *testing.T) {
	for _, mode := range options.Modes {
		m := OPEAIngressAndMTLS(mode, Gateway{Address: "10.96.0.10", CACertPEM: "PEM"})
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
