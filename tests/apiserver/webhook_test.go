package apiserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/secure-inference/mesh-conformance/tests/apiserver"
	"github.com/secure-inference/mesh-conformance/tests/apply"
)

// An apply right after a controller (re)start or an operator install meets
// a webhook that is registered but not serving. The applier retries that,
// bounded, and never retries a webhook's real refusal. Here: a real
// ValidatingWebhookConfiguration pointing at a Service with no endpoints,
// then at a port nothing listens on, then at a server that answers.

// webhookServer answers admission reviews for ConfigMaps: it refuses the
// one named "rejected" and admits the rest, counting calls by name.
type webhookServer struct {
	mu    sync.Mutex
	calls map[string]int
}

func (w *webhookServer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var review struct {
		Request struct {
			UID  string `json:"uid"`
			Name string `json:"name"`
		} `json:"request"`
	}
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	w.calls[review.Request.Name]++
	w.mu.Unlock()
	resp := map[string]any{"uid": review.Request.UID, "allowed": review.Request.Name != "rejected"}
	if review.Request.Name == "rejected" {
		resp["status"] = map[string]any{"code": 403, "message": "the test webhook refuses ConfigMaps named rejected"}
	}
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": resp})
}

func (w *webhookServer) count(name string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.calls[name]
}

func loopbackCert(t *testing.T) (tls.Certificate, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mc-webhook"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func configMap(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": "mc-webhook"}, "data": map[string]any{"k": "v"}}}
}

func TestApplyRetriesAWebhookThatIsNotServingYet(t *testing.T) {
	ctx := context.Background()
	srv, err := apiserver.Start(os.Getenv(apiserver.BinDirEnv))
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	kc, err := kubernetes.NewForConfig(srv.Config)
	require.NoError(t, err)
	a, err := apply.New(srv.Config)
	require.NoError(t, err)
	var mu sync.Mutex
	var retries []string
	a.Logf = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		retries = append(retries, fmt.Sprintf(format, args...))
	}

	_, err = kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "mc-webhook"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = kc.CoreV1().Services("mc-webhook").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "webhook"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "nothing-runs-here"}, Ports: []corev1.ServicePort{{Port: 443}}}}, metav1.CreateOptions{})
	require.NoError(t, err)

	cert, caPEM := loopbackCert(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "https://" + ln.Addr().String() + "/validate"
	require.NoError(t, ln.Close()) // nothing listens there until the webhook "starts"

	fail, none := admissionv1.Fail, admissionv1.SideEffectClassNone
	timeout := int32(5)
	port := int32(443)
	vwc := &admissionv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "mc-webhook"},
		Webhooks: []admissionv1.ValidatingWebhook{{
			Name:         "configmaps.mc-webhook.mesh-conformance.dev",
			ClientConfig: admissionv1.WebhookClientConfig{Service: &admissionv1.ServiceReference{Namespace: "mc-webhook", Name: "webhook", Port: &port}, CABundle: caPEM},
			Rules: []admissionv1.RuleWithOperations{{Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
				Rule: admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}}}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "mc-webhook"}},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          &timeout,
		}}}
	_, err = kc.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, vwc, metav1.CreateOptions{})
	require.NoError(t, err)

	// The API server takes a moment to load the configuration: wait
	// (bounded) until a dry run meets the webhook without endpoints.
	var seen error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		_, seen = kc.CoreV1().ConfigMaps("mc-webhook").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe"}},
			metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if seen != nil {
			break
		}
	}
	require.Error(t, seen, "the webhook never took effect")
	require.True(t, apply.Transient(seen), "a webhook without endpoints is transient: %v", seen)
	assert.Contains(t, seen.Error(), "no endpoints available for service")

	// Then it gets an address with nothing listening, then it serves.
	hook := &webhookServer{calls: map[string]int{}}
	server := &http.Server{Handler: hook, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, ReadHeaderTimeout: 5 * time.Second}
	t.Cleanup(func() { _ = server.Close() })
	go func() {
		time.Sleep(2 * time.Second)
		got, err := kc.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "mc-webhook", metav1.GetOptions{})
		if err != nil {
			return
		}
		got.Webhooks[0].ClientConfig = admissionv1.WebhookClientConfig{URL: &url, CABundle: caPEM}
		if _, err := kc.AdmissionregistrationV1().ValidatingWebhookConfigurations().Update(ctx, got, metav1.UpdateOptions{}); err != nil {
			return
		}
		time.Sleep(3 * time.Second)
		l, err := net.Listen("tcp", strings.TrimSuffix(strings.TrimPrefix(url, "https://"), "/validate"))
		if err != nil {
			return
		}
		_ = server.ServeTLS(l, "", "")
	}()

	start := time.Now()
	require.NoError(t, a.Apply(ctx, configMap("accepted")), "the apply waits for the webhook, then succeeds")
	elapsed := time.Since(start)
	assert.Equal(t, 1, hook.count("accepted"), "admitted by the webhook once it served")
	mu.Lock()
	log := strings.Join(retries, "\n")
	mu.Unlock()
	t.Logf("applied after %s and %d retries:\n%s", elapsed.Round(time.Millisecond), len(retries), log)
	assert.Contains(t, log, "no endpoints available for service")
	assert.Contains(t, log, "connection refused")

	// A refusal is a verdict: returned at once, asked once.
	mu.Lock()
	retries = nil
	mu.Unlock()
	start = time.Now()
	err = a.Apply(ctx, configMap("rejected"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "denied the request")
	assert.Contains(t, err.Error(), "refuses ConfigMaps named rejected")
	assert.Equal(t, 1, hook.count("rejected"), "a refusal is never retried")
	assert.Empty(t, retries)
	assert.Less(t, time.Since(start), 5*time.Second)

	// And the wait is bounded: a webhook that never serves ends the apply
	// with the API error and the time waited.
	require.NoError(t, kc.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(ctx, "mc-webhook", metav1.DeleteOptions{}))
	vwc.Name = "mc-webhook-never"
	_, err = kc.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, vwc, metav1.CreateOptions{})
	require.NoError(t, err)
	a.WebhookWait = 3 * time.Second
	var last error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if last = a.Apply(ctx, configMap("never")); last != nil {
			break
		}
		_ = kc.CoreV1().ConfigMaps("mc-webhook").Delete(ctx, "never", metav1.DeleteOptions{})
	}
	require.Error(t, last)
	assert.Contains(t, last.Error(), "a webhook did not serve within 3s")
	assert.Contains(t, last.Error(), "no endpoints available for service")
}
