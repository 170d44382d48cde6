//go:build apiserver

package apiserver_test

import (
	"context"
	"fmt"
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

func configMap(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": "mc-webhook"}, "data": map[string]any{"k": "v"}}}
}

func TestApplyRetriesAWebhookThatIsNotServingYet(t *testing.T) {
	ctx := context.Background()
	srv, _ := freshServer(t)
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

	hook, err := apiserver.NewWebhook()
	require.NoError(t, err)
	t.Cleanup(hook.Stop)
	hook.Refuse = func(name string) string {
		if name == "rejected" {
			return "the test webhook refuses ConfigMaps named rejected"
		}
		return ""
	}
	caPEM := hook.CABundle

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
	go func() {
		time.Sleep(2 * time.Second)
		if _, err := hook.Redirect(ctx, kc, "mc-webhook", "webhook"); err != nil {
			return
		}
		time.Sleep(3 * time.Second)
		_ = hook.Start()
	}()

	start := time.Now()
	require.NoError(t, a.Apply(ctx, configMap("accepted")), "the apply waits for the webhook, then succeeds")
	elapsed := time.Since(start)
	assert.Equal(t, 1, hook.Calls("accepted"), "admitted by the webhook once it served")
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
	assert.Equal(t, 1, hook.Calls("rejected"), "a refusal is never retried")
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
