// Command standin is the offline lab's stand-in target. It answers the
// requests the suites' matrices make, with the same paths and bodies as the
// real targets, and enforces nothing: KServe's V1 protocol
// (GET /v1/models/<name>, POST /v1/models/<name>:predict), nginx's /home
// page of ChatQnA, and httpbin's /get, /delay/<n> and /headers; with
// -policy-configmap, the model paths answer 403 while that ConfigMap says
// deny, a known delay after it changes (policy.go); /stats/prometheus and
// /healthz/ready stand in for a sidecar's plaintext ports. The lab uses it to prove the
// harness, never KServe or OPEA. Listening on 127.0.0.1:15000 in a container
// named istio-proxy, it stands in for an Envoy or ztunnel admin port: its
// /config_dump names the pod, so a diagnostics bundle shows which pod the
// port-forward reached. With -forward-to it stands in for Knative's
// activator instead (proxy.go): it holds each request until the target
// answers and forwards it under its own identity, which -admit-identity
// lets through the target's policy as the document's knative-serving rule
// does. With -hbone it also stands in for ztunnel's in-pod HBONE port
// (hbone.go).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	addrs := flag.String("listen", ":80", "comma-separated listen addresses")
	policy := flag.String("policy-configmap", "", "ConfigMap in the pod's namespace that holds the model paths' policy (deny, after); none: allow")
	admit := flag.String("admit-identity", "", "an identity (header "+identityHeader+") the model paths admit while denying, as a policy rule for the activator's namespace")
	forwardTo := flag.String("forward-to", "", "proxy mode: forward every request to this base URL under -identity, holding it until the target answers")
	identity := flag.String("identity", "knative-serving", "proxy mode: the identity forwarded requests carry")
	hold := flag.Duration("hold", 20*time.Second, "proxy mode: how long a request is held while the target does not answer")
	hbone := flag.String("hbone", "", "also listen here as ztunnel's HBONE port does (hbone.go): TLS, a client certificate required, an alert to plaintext")
	hboneOpen := flag.Bool("hbone-open", false, "the -hbone port admits clients without a certificate and serves them: a bypass")
	storageInit := flag.Bool("storage-initializer", false, "stand in for KServe's storage initializer (kserve.go): write a model file into the second argument and exit")
	modelName := flag.String("model_name", "", "KServe runtime mode (kserve.go): the model's name, as the ClusterServingRuntime passes it")
	modelDir := flag.String("model_dir", "", "KServe runtime mode: where the storage initializer wrote the model; the server does not start without it")
	httpPort := flag.String("http_port", "", "KServe runtime mode: the port to serve on instead of -listen")
	flag.Parse()
	if *storageInit {
		if err := initStorage(flag.Args()); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *modelDir != "" {
		if err := checkModelDir(*modelDir); err != nil {
			log.Fatal(err)
		}
		log.Printf("model server for %s, model in %s", *modelName, *modelDir)
	}
	if *httpPort != "" {
		*addrs = ":" + *httpPort
	}
	if *forwardTo != "" {
		log.Fatal(http.ListenAndServe(strings.Split(*addrs, ",")[0], &forwarder{target: *forwardTo, identity: *identity, hold: *hold}))
	}
	if *policy != "" {
		p, err := newPolicyWatch(*policy)
		if err != nil {
			log.Fatal(err)
		}
		ready := make(chan struct{})
		go p.run(ready)
		select {
		case <-ready:
		case <-time.After(time.Minute):
			log.Fatalf("policy ConfigMap %s: not read within a minute", *policy)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/models/", func(w http.ResponseWriter, r *http.Request) {
		if denying() && (*admit == "" || r.Header.Get(identityHeader) != *admit) {
			http.Error(w, "RBAC: access denied", http.StatusForbidden)
			return
		}
		models(w, r)
	})
	mux.HandleFunc("/home", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "<html><body><h1>Welcome to nginx!</h1><p>lab stand-in for chatqna-nginx</p></body></html>")
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"url": r.URL.String()})
	})
	mux.HandleFunc("/delay/", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/delay/"))
		if err != nil || n < 0 || n > 10 {
			http.Error(w, "delay is 0..10 seconds, as httpbin's", http.StatusBadRequest)
			return
		}
		select {
		case <-r.Context().Done():
		case <-time.After(time.Duration(n) * time.Second):
			writeJSON(w, map[string]any{"delayed": n})
		}
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		h := map[string]string{}
		for k, v := range r.Header {
			h[k] = strings.Join(v, ",")
		}
		writeJSON(w, map[string]any{"headers": h})
	})
	// Envoy's documented plaintext endpoints, as a sidecar serves them on
	// 15090/15020 and 15021: the metrics name a model deep in the page, as
	// Istio's request metrics do (destination_service), past any excerpt.
	mux.HandleFunc("/stats/prometheus", func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i < 400; i++ {
			fmt.Fprintf(w, "envoy_cluster_manager_stand_in_%d 0\n", i)
		}
		fmt.Fprintln(w, `istio_requests_total{destination_service="sklearn-iris-predictor.user1.svc.cluster.local"} 1`)
	})
	mux.HandleFunc("/healthz/ready", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("/config_dump", func(w http.ResponseWriter, _ *http.Request) {
		host, _ := os.Hostname()
		writeJSON(w, map[string]any{"labStandIn": "proxy admin config_dump", "pod": host})
	})
	if *hbone != "" {
		go func() { log.Fatal(serveHBONE(*hbone, *hboneOpen, mux)) }()
	}
	list := strings.Split(*addrs, ",")
	for _, a := range list[1:] {
		go func(a string) { log.Fatal(http.ListenAndServe(a, mux)) }(a)
	}
	log.Fatal(http.ListenAndServe(list[0], mux))
}

var (
	mu   sync.Mutex
	deny bool
)

func denying() bool {
	mu.Lock()
	defer mu.Unlock()
	return deny
}

func setDenying(v bool) {
	mu.Lock()
	defer mu.Unlock()
	deny = v
}

func models(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/v1/models/")
	if model, ok := strings.CutSuffix(rest, ":predict"); ok {
		if r.Method != http.MethodPost {
			http.Error(w, "predict needs POST", http.StatusMethodNotAllowed)
			return
		}
		var in struct{ Instances [][]float64 }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || len(in.Instances) == 0 {
			http.Error(w, "want {\"instances\": [[...]]}", http.StatusBadRequest)
			return
		}
		preds := make([]int, len(in.Instances))
		_ = model
		writeJSON(w, map[string]any{"predictions": preds})
		return
	}
	writeJSON(w, map[string]any{"name": rest, "ready": true})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
