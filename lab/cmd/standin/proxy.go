package main

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"time"
)

// identityHeader carries the caller's identity from the activator
// stand-in to the target, as mTLS carries the activator's SPIFFE identity
// to a predictor's sidecar: the target's policy reads it.
const identityHeader = "X-Standin-Identity"

// forwarder stands in for Knative's activator in front of a revision with
// no ready pod: it holds each request, retrying the target until it
// answers (as the activator's throttler queues requests until a pod is
// ready), then forwards it under its own identity and returns the answer.
type forwarder struct {
	target, identity string
	hold             time.Duration
}

func (f *forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// A fresh connection each attempt: a kept one may lead to a pod that
	// is gone.
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(f.hold)
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(r.Context(), r.Method, f.target+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		req.Header.Set(identityHeader, f.identity)
		resp, err := client.Do(req)
		if err == nil {
			defer resp.Body.Close()
			log.Printf("forwarded %s %s after %d attempt(s): %d", r.Method, r.URL.Path, attempt, resp.StatusCode)
			for k, v := range resp.Header {
				w.Header()[k] = v
			}
			w.WriteHeader(resp.StatusCode)
			_, _ = io.Copy(w, resp.Body)
			return
		}
		if r.Context().Err() != nil || time.Now().After(deadline) {
			http.Error(w, "activator stand-in: target did not answer: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}
