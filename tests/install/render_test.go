package install

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/secure-inference/mesh-conformance/fixtures"
)

// chatqnaChart loads the chart the light profile is checked against: the
// real ChatQnA chart when MC_CHATQNA_CHART names its directory or .tgz
// (it is only on ghcr.io, out of reach here), else the synthetic one.
func chatqnaChart(t *testing.T) (string, bool) {
	if p := os.Getenv("MC_CHATQNA_CHART"); p != "" {
		return p, true
	}
	return "testdata/chatqna-like", false
}

func TestLightProfileRendersOnlyNginx(t *testing.T) {
	path, real := chatqnaChart(t)
	ch, err := loader.Load(path)
	require.NoError(t, err)
	values, err := fixtures.Values("opeaistio/chatqna-light.values.yaml")
	require.NoError(t, err)
	if real {
		// The shaped chart has one subchart, so only the real one can say
		// whether every key of the light values is its (values_test.go).
		assert.Empty(t, undeclared(ch, values), "keys of chatqna-light.values.yaml the real chart neither declares nor reads")
	}
	manifest, err := Render(ch, ChatQnANamespace, "chatqna", values)
	require.NoError(t, err)
	running, err := RunningDeployments(manifest, ChatQnANginx)
	require.NoError(t, err)
	assert.Empty(t, running, "with the light values, only chatqna-nginx may run (real chart: %v)", real)

	// The check can fail: the chart's defaults run everything.
	manifest, err = Render(ch, ChatQnANamespace, "chatqna", map[string]any{})
	require.NoError(t, err)
	running, err = RunningDeployments(manifest, ChatQnANginx)
	require.NoError(t, err)
	assert.NotEmpty(t, running)
	if !real {
		assert.Equal(t, []string{"chatqna", "chatqna-tgi"}, running)
	}
}
