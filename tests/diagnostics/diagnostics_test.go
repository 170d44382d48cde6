package diagnostics

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

func TestNamespacesOfAMatrix(t *testing.T) {
	res := matrix.Result{Cells: []matrix.CellResult{
		{Cell: matrix.Cell{Client: matrix.Client{Namespace: "default"}, Request: probe.Request{URL: "http://sklearn-iris-predictor.user1.svc.cluster.local/v1/models/x"}}},
		{Cell: matrix.Cell{Client: matrix.Client{Namespace: "outside"}, Request: probe.Request{URL: "https://chatqna.intel.com/home"}}},
	}}
	assert.Equal(t, []string{"default", "outside", "user1"}, Namespaces(res))
}

func TestBundleIsBounded(t *testing.T) {
	dir := t.TempDir()
	c := &Collector{}
	big := bytes.Repeat([]byte("x"), 2*MaxFileBytes)
	for i := 0; i < 2*MaxBundleBytes/MaxFileBytes; i++ {
		c.write(dir, filepath.Join("logs", string(rune('a'+i%26))+string(rune('a'+i/26))+".log"), big)
	}
	c.write(dir, "DROPPED.txt", []byte("note"))
	var total int64
	require.NoError(t, filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			assert.LessOrEqual(t, info.Size(), int64(MaxFileBytes+64), info.Name())
			total += info.Size()
		}
		return err
	}))
	assert.LessOrEqual(t, total, int64(MaxBundleBytes+64))
	assert.NotEmpty(t, c.dropped, "what did not fit is listed")
	assert.FileExists(t, filepath.Join(dir, "DROPPED.txt"))
}
