package apiserver

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
	"sync"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Webhook is an admission webhook server on 127.0.0.1 for this tier, where
// no webhook pod ever runs: it answers AdmissionReviews (admitting, unless
// Refuse says otherwise, and never patching) and counts calls by object
// name. Webhook configurations are pointed at it with Redirect.
type Webhook struct {
	// URL is https://127.0.0.1:<port>; CABundle is the PEM the API server
	// must trust for it.
	URL      string
	CABundle []byte
	// Refuse, when set, returns a message for objects to refuse.
	Refuse func(name string) string

	mu       sync.Mutex
	calls    map[string]int
	listener net.Listener
	server   *http.Server
	cert     tls.Certificate
}

// NewWebhook prepares a server on a free loopback port; Start serves.
func NewWebhook() (*Webhook, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mesh-conformance apiserver-tier webhook"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	// Nothing listens until Start: a webhook pointed here is refused.
	if err := ln.Close(); err != nil {
		return nil, err
	}
	return &Webhook{URL: "https://" + addr, CABundle: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		calls: map[string]int{}, cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}, nil
}

// Start serves on the prepared port.
func (w *Webhook) Start() error {
	ln, err := net.Listen("tcp", w.URL[len("https://"):])
	if err != nil {
		return err
	}
	w.listener = ln
	w.server = &http.Server{Handler: w, ReadHeaderTimeout: 5 * time.Second, TLSConfig: &tls.Config{Certificates: []tls.Certificate{w.cert}}}
	go func() { _ = w.server.ServeTLS(ln, "", "") }()
	return nil
}

// Stop ends the server.
func (w *Webhook) Stop() {
	if w.server != nil {
		_ = w.server.Close()
	}
}

// Calls is how many reviews named an object.
func (w *Webhook) Calls(name string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.calls[name]
}

func (w *Webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var review struct {
		APIVersion string `json:"apiVersion"`
		Request    struct {
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
	resp := map[string]any{"uid": review.Request.UID, "allowed": true}
	if w.Refuse != nil {
		if msg := w.Refuse(review.Request.Name); msg != "" {
			resp["allowed"] = false
			resp["status"] = map[string]any{"code": 403, "message": msg}
		}
	}
	rw.Header().Set("Content-Type", "application/json")
	// Answer in the version asked (KServe registers v1beta1 only).
	_ = json.NewEncoder(rw).Encode(map[string]any{"apiVersion": review.APIVersion, "kind": "AdmissionReview", "response": resp})
}

// urlFor keeps the path a webhook's Service reference asked for.
func (w *Webhook) urlFor(cc admissionv1.WebhookClientConfig) *string {
	u := w.URL
	if cc.Service != nil && cc.Service.Path != nil {
		u += *cc.Service.Path
	}
	return &u
}

// Redirect points every validating and mutating webhook that calls the
// Service namespace/name at this server, and returns how many it changed.
func (w *Webhook) Redirect(ctx context.Context, kc kubernetes.Interface, namespace, name string) (int, error) {
	n := 0
	// redirect rewrites the client configs that call the Service.
	redirect := func(ccs []*admissionv1.WebhookClientConfig) bool {
		changed := false
		for _, cc := range ccs {
			if cc.Service != nil && cc.Service.Namespace == namespace && cc.Service.Name == name {
				*cc = admissionv1.WebhookClientConfig{URL: w.urlFor(*cc), CABundle: w.CABundle}
				changed = true
				n++
			}
		}
		return changed
	}
	admission := kc.AdmissionregistrationV1()
	vwcs, err := admission.ValidatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	for _, c := range vwcs.Items {
		var ccs []*admissionv1.WebhookClientConfig
		for i := range c.Webhooks {
			ccs = append(ccs, &c.Webhooks[i].ClientConfig)
		}
		if redirect(ccs) {
			if _, err := admission.ValidatingWebhookConfigurations().Update(ctx, &c, metav1.UpdateOptions{}); err != nil {
				return n, fmt.Errorf("redirecting %s: %w", c.Name, err)
			}
		}
	}
	mwcs, err := admission.MutatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		return n, err
	}
	for _, c := range mwcs.Items {
		var ccs []*admissionv1.WebhookClientConfig
		for i := range c.Webhooks {
			ccs = append(ccs, &c.Webhooks[i].ClientConfig)
		}
		if redirect(ccs) {
			if _, err := admission.MutatingWebhookConfigurations().Update(ctx, &c, metav1.UpdateOptions{}); err != nil {
				return n, fmt.Errorf("redirecting %s: %w", c.Name, err)
			}
		}
	}
	return n, nil
}
