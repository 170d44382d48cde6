// Command netistio stands in for net-istio (knative.dev/net-istio, Knative
// Serving's Istio ingress), whose module the proxy refuses, in the offline
// lab where the real Knative operator deploys it from its kodata
// (ingress/1.21/istio/net-istio.yaml). It runs as both of that manifest's
// deployments:
//
//   - net-istio-controller (default): makes every KIngress of the Istio
//     class Ready with the load balancers net-istio reports for the default
//     config-istio (public istio-ingressgateway, private
//     knative-local-gateway, both in istio-system), without the
//     VirtualServices net-istio writes and without probing the gateways:
//     the lab has no Envoy. Its probes port (8080) answers /readiness and
//     /health once the first list succeeded.
//   - knative-local-gateway (-local-gateway :8081): the gateway's data
//     path, routing by KIngress (gateway.go), for a pod the lab deploys
//     in istio-system; no policy, no mTLS.
//   - net-istio-webhook (-webhook): serves TLS on 8443 with a self-signed
//     certificate, which is all the kubelet's HTTPS probes ask; it allows
//     every admission review it is sent. net-istio's webhook would fill in
//     its two webhook configurations' rules and CA bundle; the stand-in
//     leaves them empty, so the API server sends it nothing.
//
// Serving's own controllers then see what they would see with net-istio:
// the Route's KIngress Ready, its placeholder Service an ExternalName to
// the private load balancer.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/secure-inference/mesh-conformance/lab/internal/selfsigned"
)

// The KIngress resource and the class net-istio reconciles (Serving's
// config-network default, ingress-class).
var kingresses = schema.GroupVersionResource{Group: "networking.internal.knative.dev", Version: "v1alpha1", Resource: "ingresses"}

const (
	classAnnotation = "networking.knative.dev/ingress.class"
	istioClass      = "istio.ingress.networking.knative.dev"
	// net-istio's load balancers for the default config-istio:
	// external-gateways knative-ingress-gateway → istio-ingressgateway,
	// local-gateways knative-local-gateway → knative-local-gateway.
	publicLB  = "istio-ingressgateway.istio-system.svc.cluster.local"
	privateLB = "knative-local-gateway.istio-system.svc.cluster.local"
)

func main() {
	webhook := flag.Bool("webhook", false, "stand in for net-istio-webhook (TLS on :8443) instead of net-istio-controller")
	gateway := flag.String("local-gateway", "", "stand in for knative-local-gateway's data path (gateway.go), listening here, instead of net-istio-controller")
	flag.Parse()
	if *webhook {
		log.Fatal(serveWebhook(":8443"))
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		log.Fatal(err)
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		log.Fatal(err)
	}
	if *gateway != "" {
		log.Fatal(serveLocalGateway(*gateway, client))
	}
	var synced atomic.Bool
	go func() {
		probe := func(w http.ResponseWriter, _ *http.Request) {
			if !synced.Load() {
				http.Error(w, "not synced", http.StatusServiceUnavailable)
			}
		}
		http.HandleFunc("/readiness", probe)
		http.HandleFunc("/health", probe)
		log.Fatal(http.ListenAndServe(":8080", nil))
	}()
	ctx := context.Background()
	for {
		if err := reconcileAll(ctx, client.Resource(kingresses), &synced); err != nil {
			log.Printf("kingresses: %v", err)
			time.Sleep(2 * time.Second)
		}
	}
}

// reconcileAll lists the KIngresses, marks each Ready, then follows the
// watch until it ends (the API server closes it after a while; the next
// list is the resync).
func reconcileAll(ctx context.Context, ri dynamic.NamespaceableResourceInterface, synced *atomic.Bool) error {
	list, err := ri.List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	synced.Store(true)
	for i := range list.Items {
		reconcile(ctx, ri, &list.Items[i])
	}
	w, err := ri.Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()})
	if err != nil {
		return err
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		if ev.Type != watch.Added && ev.Type != watch.Modified {
			continue
		}
		if u, ok := ev.Object.(*unstructured.Unstructured); ok {
			reconcile(ctx, ri, u)
		}
	}
	return nil
}

// reconcile writes net-istio's Ready status on an Istio-class KIngress
// whose status does not yet describe its generation.
func reconcile(ctx context.Context, ri dynamic.NamespaceableResourceInterface, u *unstructured.Unstructured) {
	if u.GetAnnotations()[classAnnotation] != istioClass || u.GetDeletionTimestamp() != nil {
		return
	}
	observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	if observed == u.GetGeneration() {
		return
	}
	now := time.Now().UTC().Format(time.RFC3339)
	cond := func(t string) map[string]any {
		return map[string]any{"type": t, "status": "True", "lastTransitionTime": now}
	}
	lb := func(host string) map[string]any {
		return map[string]any{"ingress": []any{map[string]any{"domainInternal": host}}}
	}
	u = u.DeepCopy()
	u.Object["status"] = map[string]any{
		"observedGeneration": u.GetGeneration(),
		"conditions":         []any{cond("LoadBalancerReady"), cond("NetworkConfigured"), cond("Ready")},
		"publicLoadBalancer": lb(publicLB), "privateLoadBalancer": lb(privateLB),
	}
	if _, err := ri.Namespace(u.GetNamespace()).UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
		log.Printf("kingress %s/%s: %v", u.GetNamespace(), u.GetName(), err)
		return
	}
	log.Printf("kingress %s/%s generation %d: Ready", u.GetNamespace(), u.GetName(), u.GetGeneration())
}

// serveWebhook answers HTTPS with a certificate made at start: probes get
// 200, admission reviews are allowed.
func serveWebhook(addr string) error {
	cert, err := selfsigned.Cert("net-istio-webhook.knative-serving.svc")
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: addr, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				return
			}
			var review map[string]any
			if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			req, _ := review["request"].(map[string]any)
			review["response"] = map[string]any{"uid": req["uid"], "allowed": true}
			delete(review, "request")
			_ = json.NewEncoder(w).Encode(review)
		})}
	return srv.ListenAndServeTLS("", "")
}
