package diagnostics

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/mesh"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	"github.com/secure-inference/mesh-conformance/tests/redact"
)

func TestNamespacesOfAMatrix(t *testing.T) {
	res := matrix.Result{Cells: []matrix.CellResult{
		{Cell: matrix.Cell{Client: matrix.Client{Namespace: "default"}, Request: probe.Request{URL: "http://sklearn-iris-predictor.user1.svc.cluster.local/v1/models/x"}}},
		{Cell: matrix.Cell{Client: matrix.Client{Namespace: "outside"}, Request: probe.Request{URL: "https://chatqna.intel.com/home"}}},
	}}
	assert.Equal(t, []string{"default", "outside", "user1"}, Namespaces(res.Cells))
}

func TestBundleIsBounded(t *testing.T) {
	dir := t.TempDir()
	b := &bundle{c: &Collector{}, dir: dir}
	big := bytes.Repeat([]byte("x"), 2*MaxFileBytes)
	for i := 0; i < 2*MaxBundleBytes/MaxFileBytes; i++ {
		b.write(filepath.Join("logs", string(rune('a'+i%26))+string(rune('a'+i/26))+".log"), big)
	}
	b.write("DROPPED.txt", []byte("note"))
	var total int64
	require.NoError(t, filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			assert.LessOrEqual(t, info.Size(), int64(MaxFileBytes+64), info.Name())
			total += info.Size()
		}
		return err
	}))
	assert.LessOrEqual(t, total, int64(MaxBundleBytes+64))
	assert.NotEmpty(t, b.dropped, "what did not fit is listed")
	assert.FileExists(t, filepath.Join(dir, "DROPPED.txt"))
}

func TestRunIsBoundedAcrossBundles(t *testing.T) {
	c := &Collector{}
	big := bytes.Repeat([]byte("x"), MaxFileBytes)
	var written int
	for n := 0; n < 2*MaxRunBytes/MaxBundleBytes; n++ {
		b := &bundle{c: c, dir: filepath.Join(t.TempDir(), "b")}
		for i := 0; i < MaxBundleBytes/MaxFileBytes; i++ {
			b.write(filepath.Join("logs", string(rune('a'+i%26))+string(rune('a'+i/26))+".log"), big)
		}
		written += len(b.files)
	}
	assert.Equal(t, MaxRunBytes/MaxFileBytes, written, "every bundle is full until the run's budget is spent")
	assert.Equal(t, int64(MaxRunBytes), c.total)
}

func TestMatrixFailureDumpsProxiesOnlyWhereCellsFailed(t *testing.T) {
	res := matrix.Result{Cells: []matrix.CellResult{
		{Cell: matrix.Cell{Client: matrix.Client{Namespace: "user1"}, Request: probe.Request{URL: "http://a.user1.svc.cluster.local/"}}, Passed: true},
		{Cell: matrix.Cell{Client: matrix.Client{Namespace: "default"}, Request: probe.Request{URL: "http://b.kserve-test.svc.cluster.local/"}}},
	}}
	f := MatrixFailure(res)
	assert.Equal(t, []string{"default", "kserve-test", "user1"}, f.Namespaces)
	assert.Equal(t, []string{"default", "kserve-test"}, f.ProxyNamespaces)
	assert.Contains(t, f.Summary, "b.kserve-test.svc.cluster.local", "the summary is the matrix table")
}

func TestSecretsAreScrubbedFromEveryFile(t *testing.T) {
	dir := t.TempDir()
	token := "hf_abcdefghijklmnopqrstuvwxyz0123"
	b := &bundle{c: &Collector{Redact: redact.New(token)}, dir: dir}
	b.write("chatqna/pods.yaml", []byte("env:\n- name: HUGGINGFACEHUB_API_TOKEN\n  value: "+token+"\n"))
	data, err := os.ReadFile(filepath.Join(dir, "chatqna", "pods.yaml"))
	require.NoError(t, err)
	assert.NotContains(t, string(data), token)
	assert.Contains(t, string(data), "value: [REDACTED]")
}

// Every bundle has the mesh's policies as Istio's typed client reads them,
// their specs included; the host client has no namespace to diagnose.
func TestBundlesHaveTheIstioPolicies(t *testing.T) {
	ctx := context.Background()
	ic := istiofake.NewSimpleClientset()
	policy, err := mesh.PolicyOf(fixtures.MustPick("kservemesh/auth.yaml", "AuthorizationPolicy", "allow-serving-tests"))
	require.NoError(t, err)
	require.NoError(t, policy.Restore(ctx, ic))
	dir := t.TempDir()
	_, err = (&Collector{Istio: ic, Kube: kubefake.NewSimpleClientset()}).Bundle(ctx, dir, Failure{Summary: "s"})
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(dir, "resources", "authorizationpolicies.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(data), "allow-serving-tests")
	assert.Contains(t, string(data), "knative-serving", "the spec's rules, in Istio's JSON form")
	assert.FileExists(t, filepath.Join(dir, "resources", "peerauthentications.yaml"))

	res := []matrix.CellResult{{Cell: matrix.Cell{Client: matrix.Client{Name: "host", Local: true}, Request: probe.Request{URL: "https://chatqna.intel.com:30443/home"}}}}
	assert.Empty(t, Namespaces(res), "the test machine's client names no namespace")
}
