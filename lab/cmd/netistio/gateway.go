package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// localGateway stands in for knative-local-gateway's data path (Envoy,
// which cannot be built here) as net-istio configures it: a request whose
// Host is a cluster-local host of a KIngress rule goes to the rule's
// split (the revision's Service, the largest share: the suites never split
// traffic) with the split's and the path's appendHeaders
// (Knative-Serving-Namespace and -Revision, which the activator reads),
// as net-istio's VirtualService for the knative-local-gateway does. It
// listens where the knative-local-gateway Service in istio-system sends
// its http2 port (8081), in a pod labelled istio=ingressgateway there. It
// checks nothing: no mTLS, no AuthorizationPolicy.
type localGateway struct {
	client dynamic.NamespaceableResourceInterface
	mu     sync.Mutex
	routes map[string]route // host -> route
	read   time.Time
}

type route struct {
	target  *url.URL
	headers map[string]string
}

func serveLocalGateway(addr string, client dynamic.Interface) error {
	g := &localGateway{client: client.Resource(kingresses)}
	return http.ListenAndServe(addr, g)
}

func (g *localGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	rt, err := g.route(r.Context(), host)
	if err != nil {
		// Envoy's answer for a host no route knows.
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	p := httputil.NewSingleHostReverseProxy(rt.target)
	director := p.Director
	p.Director = func(out *http.Request) {
		director(out)
		out.Host = r.Host
		for k, v := range rt.headers {
			out.Header.Set(k, v)
		}
	}
	p.ServeHTTP(w, r)
}

// route finds a host's route in the KIngresses, read at most once a
// second.
func (g *localGateway) route(ctx context.Context, host string) (route, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if rt, ok := g.routes[host]; ok && time.Since(g.read) < time.Second {
		return rt, nil
	}
	list, err := g.client.List(ctx, metav1.ListOptions{})
	if err != nil {
		return route{}, fmt.Errorf("listing KIngresses: %w", err)
	}
	g.routes, g.read = map[string]route{}, time.Now()
	for _, ing := range list.Items {
		rules, _, _ := unstructured.NestedSlice(ing.Object, "spec", "rules")
		for _, r := range rules {
			rule, _ := r.(map[string]any)
			if rule["visibility"] != "ClusterLocal" {
				continue
			}
			rt, ok := ruleRoute(rule)
			if !ok {
				continue
			}
			hosts, _, _ := unstructured.NestedStringSlice(rule, "hosts")
			for _, h := range hosts {
				g.routes[h] = rt
			}
		}
	}
	rt, ok := g.routes[host]
	if !ok {
		return route{}, fmt.Errorf("no cluster-local KIngress rule for host %q", host)
	}
	log.Printf("local gateway: %s -> %s %v", host, rt.target, rt.headers)
	return rt, nil
}

// ruleRoute is the first path's largest split of a rule.
func ruleRoute(rule map[string]any) (route, bool) {
	paths, _, _ := unstructured.NestedSlice(rule, "http", "paths")
	if len(paths) == 0 {
		return route{}, false
	}
	path, _ := paths[0].(map[string]any)
	splits, _, _ := unstructured.NestedSlice(path, "splits")
	var best map[string]any
	for _, s := range splits {
		m, _ := s.(map[string]any)
		if best == nil || percent(m) > percent(best) {
			best = m
		}
	}
	if best == nil {
		return route{}, false
	}
	name, _, _ := unstructured.NestedString(best, "serviceName")
	ns, _, _ := unstructured.NestedString(best, "serviceNamespace")
	port, _, _ := unstructured.NestedFieldNoCopy(best, "servicePort")
	headers := map[string]string{}
	for _, from := range []map[string]any{path, best} {
		h, _, _ := unstructured.NestedStringMap(from, "appendHeaders")
		for k, v := range h {
			headers[k] = v
		}
	}
	target := &url.URL{Scheme: "http", Host: fmt.Sprintf("%s.%s.svc.cluster.local:%v", name, ns, port)}
	return route{target: target, headers: headers}, !slices.Contains([]string{name, ns}, "")
}

func percent(split map[string]any) int64 {
	p, _, _ := unstructured.NestedInt64(split, "percent")
	return p
}
