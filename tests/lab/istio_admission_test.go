//go:build lab

package lab

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/suites/opeaistio"
	"github.com/secure-inference/mesh-conformance/tests/apply"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/istiovalidation"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

// dryRunCreate creates an object with a server-side dry run: admission
// runs in full (webhooks with sideEffects None are called), nothing is
// stored. A webhook that is not serving yet is retried, bounded.
func (l *istioLab) dryRunCreate(ctx context.Context, o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ri, err := l.applier.Resource(o)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		got, err := ri.Create(ctx, o, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: apply.FieldManager})
		if !apply.Transient(err) || time.Now().After(deadline) {
			return got, err
		}
		time.Sleep(2 * time.Second)
	}
}

// waitValidationFails waits until istiod has switched its validating
// webhooks to failurePolicy Fail: the charts install them as Ignore, and
// istiod patches them once its webhook serves with the CA bundle it
// created. Before that a refusal would not be guaranteed.
func (l *istioLab) waitValidationFails(ctx context.Context, t *testing.T) {
	t.Helper()
	names := []string{"istiod-default-validator", "istio-validator-istio-system"}
	var last string
	require.Eventually(t, func() bool {
		for _, n := range names {
			w, err := l.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				last = err.Error()
				return false
			}
			for _, h := range w.Webhooks {
				if h.FailurePolicy == nil || *h.FailurePolicy != admissionv1.Fail {
					last = fmt.Sprintf("%s webhook %s has failurePolicy %v", n, h.Name, policy(h.FailurePolicy))
					return false
				}
			}
		}
		return true
	}, 2*time.Minute, time.Second, "istiod sets its validating webhooks to failurePolicy Fail (last seen: %s)", &last)
}

func policy(p *admissionv1.FailurePolicyType) string {
	if p == nil {
		return "unset"
	}
	return string(*p)
}

// checkValidation applies every Istio object of both suites' fixtures
// through istiod's validating webhook (accepted), then each broken
// variant (refused by the webhook, naming the field).
func (l *istioLab) checkValidation(ctx context.Context, t *testing.T) {
	for _, ns := range []string{"user1", "chatqna", "knative-serving"} {
		_, err := l.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !strings.Contains(err.Error(), "already exists") {
			require.NoError(t, err)
		}
	}
	l.waitValidationFails(ctx, t)
	n := 0
	for _, f := range istiovalidation.Fixtures {
		for _, o := range fixtures.MustLoad(f) {
			if !istiovalidation.IsIstio(o) {
				continue
			}
			_, err := l.dryRunCreate(ctx, o)
			assert.NoError(t, err, "fixtures/%s %s %s/%s through istiod's validation", f, o.GetKind(), o.GetNamespace(), o.GetName())
			n++
		}
	}
	require.Equal(t, istiovalidation.IstioObjects, n, "Istio objects in the suites' fixtures")
	for _, v := range istiovalidation.Variants {
		o, err := v.Build()
		require.NoError(t, err)
		_, err = l.dryRunCreate(ctx, o)
		if assert.Error(t, err, "%s: %s %s accepted", v.Name, v.Kind, v.Object) {
			assert.Contains(t, err.Error(), istiovalidation.WebhookDenial, "%s: refused, but not by istiod's webhook", v.Name)
			assert.Contains(t, err.Error(), v.Want, "%s: the refusal names the field", v.Name)
			logf("istio lab: %s refused: %s", v.Name, err)
		}
	}
}

// podFrom is the pod a Deployment of the fixtures would create, as its
// ReplicaSet creates it: the template's metadata and spec.
func podFrom(t *testing.T, o *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	var d appsv1.Deployment
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d))
	pod := corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: d.Spec.Template.ObjectMeta, Spec: d.Spec.Template.Spec}
	pod.Namespace, pod.GenerateName = d.Namespace, d.Name+"-"
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&pod)
	require.NoError(t, err)
	return &unstructured.Unstructured{Object: u}
}

// checkInjection creates the suites' client pods with a server-side dry
// run in each namespace the suites use, enrolled as the suites enroll
// them in sidecar mode (the kservemesh namespace fixture's label, and
// install.Enroll for chatqna), and judges the admitted pods with the
// suites' own predicate (ready.HasContainer, "istio-proxy"): a sidecar
// where the suite expects one, none elsewhere. The default client carries
// only the sidecar.istio.io/inject annotation, which injects nothing
// without the namespace label (kserve-servicemesh.md).
func (l *istioLab) checkInjection(ctx context.Context, t *testing.T) {
	for _, f := range []string{"kservemesh/namespace.yaml", "kservemesh/clients.yaml", "opeaistio/clients.yaml"} {
		for _, o := range fixtures.MustLoad(f) {
			// The pods' namespaces and service accounts exist for real:
			// admission looks the service account up before the webhooks.
			if o.GetKind() == "Namespace" || o.GetKind() == "ServiceAccount" {
				require.NoError(t, l.applier.Apply(ctx, o))
			}
		}
	}
	_, err := install.Enroll(ctx, l.kube, opeaistio.ChatQnANamespace, dataplane.Sidecar)
	require.NoError(t, err)
	want := map[string]bool{"default": false, "user1": true, "user2": true, "outside": false, opeaistio.ChatQnANamespace: true}
	seen := map[string]bool{}
	for _, f := range []string{"kservemesh/clients.yaml", "opeaistio/clients.yaml"} {
		for _, o := range fixtures.MustLoad(f) {
			if o.GetKind() != "Deployment" {
				continue
			}
			ns := o.GetNamespace()
			expect, known := want[ns]
			require.True(t, known, "fixtures/%s: a client in %s, which the test has no expectation for", f, ns)
			got, err := l.dryRunCreate(ctx, podFrom(t, o))
			require.NoError(t, err, "dry-run pod of %s/%s", ns, o.GetName())
			var pod corev1.Pod
			require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(got.Object, &pod))
			has := ready.HasContainer(&pod, "istio-proxy")
			assert.Equal(t, expect, has, "fixtures/%s client %s/%s: istio-proxy injected %v, want %v", f, ns, o.GetName(), has, expect)
			logf("istio lab: dry-run pod of %s/%s: istio-proxy %v (want %v)", ns, o.GetName(), has, expect)
			seen[ns] = true
		}
	}
	assert.Len(t, seen, len(want), "every namespace has a client in the fixtures")
}
