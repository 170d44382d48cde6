package probe

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Find searches the whole body, not the excerpt: a metrics page that names
// a model 20 KiB in (past any excerpt) is found to name it, and a string
// absent from the body is not reported; hostile strings stay quoted.
func TestFindSearchesTheWholeBody(t *testing.T) {
	requireCurl(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, strings.Repeat("envoy_server_uptime 1\n", 1000))
		fmt.Fprint(w, `istio_requests_total{destination_service="sklearn-iris-predictor.user1.svc.cluster.local"} 3`+"\n")
	}))
	t.Cleanup(srv.Close)
	reqs := []Request{
		{URL: srv.URL + "/stats/prometheus", Find: []string{"sklearn-iris", "neural-chat", "'; exit 1; '", "", "two\nlines"}},
		{URL: srv.URL + "/stats/prometheus"},
	}
	outs, err := Run(context.Background(), LocalExecutor{}, Pod{}, reqs, testTimeout)
	require.NoError(t, err)
	require.Len(t, outs, 2)
	assert.Equal(t, KindHTTP, outs[0].Kind)
	assert.NotContains(t, outs[0].Body, "sklearn-iris", "the name lies past the excerpt")
	assert.Equal(t, []string{"sklearn-iris"}, outs[0].Found)
	assert.Empty(t, outs[1].Found, "nothing asked, nothing found")

	// A refused connection has no body to search.
	outs, err = Run(context.Background(), LocalExecutor{}, Pod{}, []Request{{URL: "http://" + closedPort(t) + "/", Find: []string{"sklearn-iris"}}}, testTimeout)
	require.NoError(t, err)
	assert.Equal(t, KindRefused, outs[0].Kind)
	assert.Empty(t, outs[0].Found)
}
