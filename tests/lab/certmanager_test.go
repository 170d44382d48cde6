//go:build lab

package lab

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// certManagerStandIn does, for the lab, the two things cert-manager does
// for KServe (its binaries' modules are not served here, docs/testing.md):
// the controller's, a Secret of spec.secretName for every Certificate,
// self-signed for its spec.dnsNames (KServe's chart asks a selfSigned
// Issuer for it), and the cainjector's, the certificate of the Certificate
// an annotation cert-manager.io/inject-ca-from names as the caBundle of
// every webhook of that configuration. It polls every second until ctx
// ends; what it did is logged, what failed is kept for the test.
type certManagerStandIn struct {
	c    *ownCluster
	errs []string
}

var (
	certificates = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}
	webhookKinds = []schema.GroupVersionResource{
		{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"},
		{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"},
	}
)

const injectCAFrom = "cert-manager.io/inject-ca-from"

func startCertManagerStandIn(ctx context.Context, t *testing.T, c *ownCluster) *certManagerStandIn {
	s := &certManagerStandIn{c: c}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			s.round(ctx)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if len(s.errs) > 0 {
			t.Errorf("cert-manager stand-in: %s", strings.Join(s.errs, "; "))
		}
	})
	return s
}

func (s *certManagerStandIn) fail(err error) {
	if err != nil && !apierrors.IsNotFound(err) && !strings.Contains(err.Error(), "context canceled") {
		s.errs = append(s.errs, err.Error())
	}
}

func (s *certManagerStandIn) round(ctx context.Context) {
	certs, err := s.c.applier.Dynamic.Resource(certificates).Namespace("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return // the CRD is not there yet, or the run is ending
	}
	for _, crt := range certs.Items {
		s.fail(s.issue(ctx, &crt))
	}
	for _, gvr := range webhookKinds {
		list, err := s.c.applier.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			continue
		}
		for _, w := range list.Items {
			s.fail(s.inject(ctx, gvr, &w))
		}
	}
}

// issue creates the Certificate's Secret when it is missing.
func (s *certManagerStandIn) issue(ctx context.Context, crt *unstructured.Unstructured) error {
	name, _, _ := unstructured.NestedString(crt.Object, "spec", "secretName")
	secrets := s.c.kube.CoreV1().Secrets(crt.GetNamespace())
	if _, err := secrets.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		return err
	}
	dns, _, _ := unstructured.NestedStringSlice(crt.Object, "spec", "dnsNames")
	certPEM, keyPEM, err := selfSignedFor(dns)
	if err != nil {
		return err
	}
	_, err = secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: crt.GetNamespace()}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM, "ca.crt": certPEM}}, metav1.CreateOptions{})
	if err == nil {
		logf("cert-manager stand-in: issued %s/%s for %v", crt.GetNamespace(), name, dns)
	}
	return err
}

// inject sets the caBundle of every webhook of a configuration annotated
// cert-manager.io/inject-ca-from, once the Certificate's Secret exists.
func (s *certManagerStandIn) inject(ctx context.Context, gvr schema.GroupVersionResource, w *unstructured.Unstructured) error {
	from := w.GetAnnotations()[injectCAFrom]
	ns, crtName, ok := strings.Cut(from, "/")
	if !ok {
		return nil
	}
	crt, err := s.c.applier.Dynamic.Resource(certificates).Namespace(ns).Get(ctx, crtName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	secretName, _, _ := unstructured.NestedString(crt.Object, "spec", "secretName")
	secret, err := s.c.kube.CoreV1().Secrets(ns).Get(ctx, secretName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	hooks, _, _ := unstructured.NestedSlice(w.Object, "webhooks")
	var patch []string
	for i, h := range hooks {
		have, _, _ := unstructured.NestedString(h.(map[string]any), "clientConfig", "caBundle")
		if want := base64.StdEncoding.EncodeToString(secret.Data["ca.crt"]); have != want {
			patch = append(patch, fmt.Sprintf(`{"op":"add","path":"/webhooks/%d/clientConfig/caBundle","value":%q}`, i, want))
		}
	}
	if len(patch) == 0 {
		return nil
	}
	_, err = s.c.applier.Dynamic.Resource(gvr).Patch(ctx, w.GetName(), types.JSONPatchType, []byte("["+strings.Join(patch, ",")+"]"), metav1.PatchOptions{})
	if err == nil {
		logf("cert-manager stand-in: injected %s's CA into %s %s (%d webhooks)", from, gvr.Resource, w.GetName(), len(patch))
	}
	return err
}

// selfSignedFor is a self-signed P-256 certificate for dnsNames, its own
// CA, valid for a day: what a selfSigned Issuer gives.
func selfSignedFor(dnsNames []string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	cn := "lab"
	if len(dnsNames) > 0 {
		cn = dnsNames[0]
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, DNSNames: dnsNames,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}
