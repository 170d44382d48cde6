//go:build lab

package lab

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secure-inference/mesh-conformance/suites/kservemesh"
	"github.com/secure-inference/mesh-conformance/suites/opeaistio"
	"github.com/secure-inference/mesh-conformance/tests/cluster"
	"github.com/secure-inference/mesh-conformance/tests/diagnostics"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/mesh"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// Without a mesh, a suite's matrix must fail on exactly the cells that need
// enforcement, with evidence that says why, and pass the others.

func failedNames(res matrix.Result) []string {
	var out []string
	for _, c := range res.Failed() {
		out = append(out, c.Name)
	}
	sort.Strings(out)
	return out
}

func TestKServeCellsFailOnlyWhereEnforcementIsNeeded(t *testing.T) {
	res := matrix.Run(context.Background(), kservemesh.Isolation(), exec_, resolve, labSettings())
	recorder.Matrix("kservemesh-on-standins", harness.ReportMatrix(res))
	t.Log("\n" + res.Table())
	require.NoError(t, res.Err)
	assert.Equal(t, []string{"default-to-sklearn-iris-predict", "default-to-sklearn-iris-status", "user2-to-httpbin", "user2-to-sklearn-iris-predict", "user2-to-sklearn-iris-status"},
		failedNames(res), "only default and user2 -> sklearn-iris, and user2 -> httpbin, need the AuthorizationPolicy")
	for _, c := range res.Failed() {
		assert.Equal(t, probe.KindHTTP, c.Last.Kind)
		assert.Equal(t, 200, c.Last.HTTPCode, "no policy: the stand-in answers")
		assert.Contains(t, c.Reason, "expected denied (HTTP 403)")
	}
	for _, c := range res.Cells {
		if c.Passed {
			assert.GreaterOrEqual(t, c.Attempts, 3, "a pass takes the required consecutive rounds")
		}
	}

	// A failing matrix produces a bounded diagnostics bundle.
	dir := t.TempDir()
	col := &diagnostics.Collector{Kube: kube, Dynamic: applier.Dynamic, Config: restCfg}
	start := time.Now()
	files, err := col.Bundle(context.Background(), dir, diagnostics.MatrixFailure(res))
	require.NoError(t, err)
	t.Logf("bundle written in %s", time.Since(start).Round(time.Millisecond))
	for _, want := range []string{"summary.txt", "default/pods.yaml", "default/events.yaml", "user1/pods.yaml"} {
		assert.FileExists(t, filepath.Join(dir, want))
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "user1", "logs", "standin-*.standin.log"))
	assert.NotEmpty(t, logs, "the stand-in's logs are in the bundle")

	// The proxies' views come through a port-forward to admin ports that
	// listen on the pod's localhost only, as Envoy's and ztunnel's do: the
	// sidecar stand-in of the failing cells' target, and ztunnel's.
	assertDump(t, dir, "user1/proxy/standin-*.config_dump.json")
	assertDump(t, dir, "istio-system/ztunnel/ztunnel-standin-*.config_dump.json")
	sidecarless, _ := filepath.Glob(filepath.Join(dir, "default", "proxy", "*"))
	assert.Empty(t, sidecarless, "pods without an istio-proxy container have no proxy view")
	var total int64
	for _, f := range files {
		if info, err := os.Stat(f); err == nil {
			total += info.Size()
		}
	}
	assert.LessOrEqual(t, total, int64(diagnostics.MaxBundleBytes))
	t.Logf("diagnostics: %d files, %d bytes", len(files), total)
}

// assertDump checks that one dump matches pattern and holds the stand-in
// admin's answer naming the pod the file is named after.
func assertDump(t *testing.T, dir, pattern string) {
	t.Helper()
	dumps, _ := filepath.Glob(filepath.Join(dir, pattern))
	require.Len(t, dumps, 1, pattern)
	data, err := os.ReadFile(dumps[0])
	require.NoError(t, err)
	pod := strings.TrimSuffix(filepath.Base(dumps[0]), ".config_dump.json")
	assert.Contains(t, string(data), `"pod":"`+pod+`"`, "the dump is the admin port's answer: %s", data)
}

func TestKServeMTLSIdentityNeedsTheMesh(t *testing.T) {
	res := matrix.Run(context.Background(), kservemesh.MTLSIdentity(mesh.DefaultTrustDomain), exec_, resolve, labSettings())
	recorder.Matrix("kservemesh-on-standins", harness.ReportMatrix(res))
	t.Log("\n" + res.Table())
	require.Len(t, res.Failed(), 1, "no sidecar adds X-Forwarded-Client-Cert")
	assert.Contains(t, res.Failed()[0].Reason, "expected body to contain \"URI=spiffe://cluster.local/ns/user1/sa/sleep\"")
}

// Without a mesh, plaintext reaches httpbin: the STRICT cell fails, and so
// does its control's (no AuthorizationPolicy answers 403 either). Both fail
// with the stand-in's 200 as evidence, never as an environment error.
func TestKServeStrictCellsNeedTheMesh(t *testing.T) {
	for _, m := range []matrix.Matrix{kservemesh.StrictMTLS(), kservemesh.StrictControl()} {
		res := matrix.Run(context.Background(), m, exec_, resolve, labSettings())
		recorder.Matrix("kservemesh-on-standins", harness.ReportMatrix(res))
		t.Log("\n" + res.Table())
		require.NoError(t, res.Err)
		require.Len(t, res.Failed(), 1, m.Name)
		c := res.Failed()[0]
		assert.Equal(t, probe.KindHTTP, c.Last.Kind)
		assert.Equal(t, 200, c.Last.HTTPCode, "no sidecar: plaintext is answered")
	}
}

func TestOPEACellsFailOnlyWhereTheGatewayOrSTRICTIsNeeded(t *testing.T) {
	ctx := context.Background()
	svc, err := kube.CoreV1().Services("istio-ingress").Get(ctx, "istio-ingress", metav1.GetOptions{})
	require.NoError(t, err)
	res := matrix.Run(ctx, opeaistio.IngressAndMTLS("ambient", opeaistio.Gateway{Address: svc.Spec.ClusterIP, CACertPEM: selfSignedPEM(t)}),
		exec_, resolve, labSettings())
	recorder.Matrix("opeaistio-on-standins", harness.ReportMatrix(res))
	t.Log("\n" + res.Table())
	require.NoError(t, res.Err)
	assert.Equal(t, []string{"http-redirects-to-https", "https-matching-sni", "outside-mesh-to-chatqna-nginx"}, failedNames(res))
	byName := map[string]matrix.CellResult{}
	for _, c := range res.Cells {
		byName[c.Name] = c
	}
	assert.Equal(t, probe.KindTLSHandshake, byName["https-matching-sni"].Last.Kind, "no TLS server behind the gateway's name")
	assert.Equal(t, 200, byName["http-redirects-to-https"].Last.HTTPCode, "no Gateway: no redirect")
	assert.Equal(t, 200, byName["outside-mesh-to-chatqna-nginx"].Last.HTTPCode, "no STRICT mTLS: plaintext is answered")
	// A refusal-only cell passes on a port with no TLS at all: it means
	// something only next to https-matching-sni, which proves TLS is served.
	assert.True(t, byName["https-other-sni-refused"].Passed)
	assert.True(t, byName["inside-mesh-to-chatqna-nginx"].Passed)
}

func selfSignedPEM(t *testing.T) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "*.intel.com"}, DNSNames: []string{"*.intel.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestKindProviderReusesARunningCluster(t *testing.T) {
	again := cluster.NewKind(clusterName, "", time.Minute, logf)
	exists, err := again.Exists()
	require.NoError(t, err)
	require.True(t, exists)
	_, err = again.CreateWithConfig(context.Background(), "")
	require.NoError(t, err)
	assert.False(t, again.Created, "a running cluster of the same name is reused, never recreated")
	assert.NotEmpty(t, again.KubernetesRestConfig().Host)
}

// A kept cluster made from another kind config (the lab's, with no host
// ports) is refused by a suite whose config maps 30443: its host-side TLS
// probe could never pass there. The cluster is left as it was.
func TestKindProviderRefusesAClusterWithoutTheSuitesPorts(t *testing.T) {
	again := cluster.NewKind(clusterName, "", time.Minute, logf)
	_, err := again.CreateWithConfig(context.Background(), filepath.Join(repoRoot(), "kind-config", "opeaistio.yaml"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "was made with another kind config")
	assert.Contains(t, err.Error(), "30443/tcp->any host port")
	assert.False(t, again.Created)
	exists, err := again.Exists()
	require.NoError(t, err)
	assert.True(t, exists, "a cluster this run did not create is never deleted")
}
