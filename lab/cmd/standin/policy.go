package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"
)

// A policy held in a ConfigMap, as a mesh's policy is held in an API
// object: the stand-in lists the ConfigMap, then watches it, and applies
// each change to its model paths `after` (the ConfigMap's "after" key) once
// the change reaches it. A test that writes the ConfigMap and measures
// until the answers flip therefore measures a known delay plus the watch's
// own latency, the way the controls measure an AuthorizationPolicy write.
//
//	data: {deny: "true", after: "2s"}   (no ConfigMap: allow)
//
// The initial state applies at once, before the stand-in serves, as a
// proxy serves only once it has its configuration.
type policyWatch struct {
	name, namespace, server string
	client                  *http.Client

	mu  sync.Mutex
	gen int // the latest change; an older delayed change does not apply
}

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

func newPolicyWatch(name string) (*policyWatch, error) {
	ns, err := os.ReadFile(saDir + "/namespace")
	if err != nil {
		return nil, fmt.Errorf("policy ConfigMap %s: no service account namespace: %w", name, err)
	}
	ca, err := os.ReadFile(saDir + "/ca.crt")
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("policy ConfigMap %s: no certificate in %s/ca.crt", name, saDir)
	}
	return &policyWatch{
		name: name, namespace: string(ns),
		server: "https://" + net.JoinHostPort(os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")),
		client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	}, nil
}

type configMap struct {
	Metadata struct {
		ResourceVersion string `json:"resourceVersion"`
	} `json:"metadata"`
	Data map[string]string `json:"data"`
}

func (p *policyWatch) get(path string, timeout time.Duration) (*http.Response, error) {
	token, err := os.ReadFile(saDir + "/token") // re-read: projected tokens rotate
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodGet, p.server+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+string(token))
	c := *p.client
	c.Timeout = timeout
	return c.Do(req)
}

// sync lists the ConfigMap and applies it at once; it returns the
// resourceVersion to watch from.
func (p *policyWatch) sync() (string, error) {
	resp, err := p.get("/api/v1/namespaces/"+p.namespace+"/configmaps?fieldSelector="+url.QueryEscape("metadata.name="+p.name), 10*time.Second)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("listing ConfigMap %s/%s: %s", p.namespace, p.name, resp.Status)
	}
	var list struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
		Items []configMap `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return "", err
	}
	var data map[string]string
	if len(list.Items) > 0 {
		data = list.Items[0].Data
	}
	p.apply(data, false)
	return list.Metadata.ResourceVersion, nil
}

// watch follows the ConfigMap's changes from rv until the stream ends.
func (p *policyWatch) watch(rv string) error {
	q := url.Values{"watch": {"true"}, "resourceVersion": {rv}, "allowWatchBookmarks": {"false"},
		"fieldSelector": {"metadata.name=" + p.name}, "timeoutSeconds": {"300"}}
	resp, err := p.get("/api/v1/namespaces/"+p.namespace+"/configmaps?"+q.Encode(), 0)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("watching ConfigMap %s/%s: %s", p.namespace, p.name, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var ev struct {
			Type   string    `json:"type"`
			Object configMap `json:"object"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return err
		}
		switch ev.Type {
		case "ADDED", "MODIFIED":
			p.apply(ev.Object.Data, true)
		case "DELETED":
			p.apply(nil, true)
		case "ERROR": // e.g. 410 Gone: list again
			return fmt.Errorf("watch error: %s", sc.Text())
		}
	}
	return sc.Err()
}

// apply sets the policy a ConfigMap's data holds; a change seen on the
// watch waits its "after" first, the initial state does not.
func (p *policyWatch) apply(data map[string]string, delayed bool) {
	deny := data["deny"] == "true"
	after, _ := time.ParseDuration(data["after"])
	if !delayed {
		after = 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	gen := p.gen
	log.Printf("policy ConfigMap %s: deny=%v after %s", p.name, deny, after)
	if after == 0 {
		setDenying(deny)
		return
	}
	time.AfterFunc(after, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if gen == p.gen {
			setDenying(deny)
		}
	})
}

// run syncs, then watches, listing again whenever a watch ends; ready
// closes after the first sync.
func (p *policyWatch) run(ready chan<- struct{}) {
	once := sync.Once{}
	for {
		rv, err := p.sync()
		if err == nil {
			once.Do(func() { close(ready) })
			err = p.watch(rv)
		}
		if err != nil {
			log.Printf("policy ConfigMap %s: %v (again in 1s)", p.name, err)
			time.Sleep(time.Second)
		}
	}
}
