package diagnostics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// ProxyAdminPort is the admin port of Envoy (sidecars, gateways) and of
// ztunnel. Both listen on the pod's localhost only, so the dump goes
// through a port-forward, as istioctl proxy-config and ztunnel-config do;
// the API server's pod proxy cannot reach it, and the images have no curl.
const ProxyAdminPort = 15000

// adminTimeout bounds one admin request, port-forward included.
const adminTimeout = 20 * time.Second

// AdminGet forwards a local port on 127.0.0.1 to the pod's port and GETs
// path from it, reading at most limit bytes. The forward lives only for the
// request.
func AdminGet(ctx context.Context, cfg *rest.Config, kube kubernetes.Interface, namespace, pod string, port int, path string, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	dialer, err := podDialer(cfg, kube, namespace, pod)
	if err != nil {
		return nil, err
	}
	stop, ready := make(chan struct{}), make(chan struct{})
	defer close(stop)
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-done:
		return nil, fmt.Errorf("port-forward to %s/%s:%d: %v", namespace, pod, port, err)
	case <-ctx.Done():
		return nil, fmt.Errorf("port-forward to %s/%s:%d: %w", namespace, pod, port, ctx.Err())
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		return nil, fmt.Errorf("port-forward to %s/%s:%d: no local port: %v", namespace, pod, port, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/%s", ports[0].Local, path), nil)
	if err != nil {
		return nil, err
	}
	// No proxy from the environment: the request goes to the forward only.
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s from %s/%s:%d: %w", path, namespace, pod, port, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return data, err
	}
	if resp.StatusCode != http.StatusOK {
		return data, fmt.Errorf("GET %s from %s/%s:%d: HTTP %d", path, namespace, pod, port, resp.StatusCode)
	}
	return data, nil
}

// podDialer dials the pod's portforward subresource over WebSockets, and
// over SPDY from API servers that do not upgrade (before 1.31), as kubectl
// port-forward does.
func podDialer(cfg *rest.Config, kube kubernetes.Interface, namespace, pod string) (httpstream.Dialer, error) {
	url := kube.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, err
	}
	spdyDialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	ws, err := portforward.NewSPDYOverWebsocketDialer(url, cfg)
	if err != nil {
		return nil, err
	}
	return portforward.NewFallbackDialer(ws, spdyDialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	}), nil
}
