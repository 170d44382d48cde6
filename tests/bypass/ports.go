// Package bypass enumerates the ways to a protected workload other than its
// documented URL: every port of its pods (each container's, and the mesh's
// and Knative's well-known listeners), probed by pod IP. It builds the
// cells (a refusal expected on every port but the mesh's documented
// plaintext ones, which are observed and reported), and the attack-surface
// table of what each probe got.
package bypass

import (
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/secure-inference/mesh-conformance/tests/dataplane"
)

// Port is one way into a pod.
type Port struct {
	Number int32
	// Container is the container that declares the port, or that listens
	// on it without declaring it (Knative's queue-proxy admin port), or
	// the mesh component that owns a well-known port ("istio-proxy",
	// "ztunnel (in-pod)").
	Container string
	// Purpose says what listens there: the port's name in the pod spec, or
	// the documented purpose of a well-known port.
	Purpose string
	// Declared: a containerPort of the pod spec; otherwise a well-known
	// port added from Source.
	Declared bool
	// Source cites where a well-known port comes from.
	Source string
	// Informational: one of the mesh's documented plaintext ports, which
	// answer any caller by design (see PlaintextPorts); its answer is a
	// finding, never a failure.
	Informational bool
	// Path is what an informational probe asks for (what the port reveals).
	Path string
	// App: declared by an application container (not the mesh's proxy):
	// the port may serve the model, so it is also probed at the model path.
	App bool
	// HTTP2: the port speaks only HTTP/2 (gRPC), so it is probed with
	// HTTP/2 from the first byte: an HTTP/1.1 request would be dropped by
	// the server itself and pass for a refusal.
	HTTP2 bool
	// TLS: the port is a TLS listener that admits only peers with a mesh
	// certificate (ztunnel's HBONE port), so it is probed as what it is: a
	// TLS client without a certificate (https, curl's default ALPN, which
	// offers h2 as an HBONE client does; the server's certificate is not
	// verified, since the question is whether the port admits the caller,
	// not who the port is). A handshake that does not admit the probe
	// (a TLS alert, a reset, EOF) is its refusal; being admitted and
	// answered at HTTP is the bypass. A plaintext request would only meet
	// the TLS stack's answer to bytes that are not TLS, never the port's
	// policy: rustls answers it with a fatal alert record, which curl reads
	// as an HTTP/0.9 reply and fails as a client error (see
	// ztunnelInPodPorts).
	TLS bool
}

// Well-known ports of Istio 1.27's sidecar, as istio.io documents them
// ("Ports used by Istio", docs/ops/deployment/application-requirements,
// the table of the sidecar proxy). "Pod-internal only" ports still get a
// probe: a pod-internal port must refuse from outside, and that is checked,
// not assumed.
var istioSidecarPorts = []Port{
	{Number: 15000, Purpose: "Envoy admin (pod-internal only)"},
	{Number: 15001, Purpose: "Envoy outbound capture"},
	{Number: 15002, Purpose: "failure-detection listener (pod-internal only)"},
	{Number: 15004, Purpose: "pilot-agent debug (pod-internal only)"},
	{Number: 15006, Purpose: "Envoy inbound capture"},
	// Probed in plaintext, on purpose (see PlaintextPorts for why the
	// verdict holds whether or not Envoy listens there).
	{Number: 15008, Purpose: "HBONE mTLS tunnel"},
	{Number: 15020, Purpose: "merged Prometheus telemetry (pilot-agent: agent, Envoy and application)"},
	{Number: 15021, Purpose: "health checks (Envoy /healthz/ready)"},
	{Number: 15053, Purpose: "DNS proxy, if capture is enabled (pod-internal only)"},
	{Number: 15090, Purpose: "Envoy Prometheus telemetry"},
}

// IstioPortsSource is the citation of the well-known Istio ports.
const IstioPortsSource = "istio.io docs/ops/deployment/application-requirements (Ports used by Istio), Istio 1.27"

// In ambient mode ztunnel's in-pod redirection (istio-cni) makes ztunnel
// listen inside each enrolled pod's network namespace: Istio 1.27.1
// cni/pkg/iptables/iptables.go ZtunnelOutboundPort 15001,
// ZtunnelInboundPlaintextPort 15006, ZtunnelInboundPort 15008 (HBONE),
// DNSCapturePort 15053 (ztunnel binds its DNS proxy to localhost: ztunnel
// 1.27.1 src/config.rs). Every other inbound TCP port but 15008 is
// redirected to 15006 (the ISTIO_PRERT rule), so a probe by pod IP of
// 15001 or 15053 meets the inbound plaintext listener, not the one the
// port is named for; each is probed all the same, and must refuse.
//
// 15008 is not redirected ("Skip 15008, which will go direct", same file):
// a probe meets ztunnel's HBONE listener itself, which is TLS 1.3 only,
// ALPN h2, with a client certificate required (ztunnel 1.27.1
// src/tls/certificate.rs server_config: WebPkiClientVerifier wrapped in
// src/tls/workload.rs TrustDomainVerifier, which keeps rustls 0.23's
// default client_auth_mandatory, true: rustls/src/verify.rs). So it is
// probed with TLS (Port.TLS). The plaintext probe it had could not pass
// on a correct cluster: rustls answers "GET" with a fatal decode_error
// alert record and closes (rustls v/0.23.26 rustls/src/conn.rs
// handle_deframe_error), and curl reads those bytes as a reply that is not
// HTTP/1.x: "Received HTTP/0.9 when not allowed", exit 1 (curl 8.11.1
// lib/http.c), a client error, not a refusal. In an enrolled pod (the
// suite's mesh-enrollment premise) 15008 is ztunnel's, so no application
// can listen there behind the probe's back.
var ztunnelInPodPorts = []Port{
	{Number: 15001, Purpose: "ztunnel outbound (in-pod; inbound probes redirected to 15006)"},
	{Number: 15006, Purpose: "ztunnel inbound plaintext (in-pod)"},
	{Number: 15008, Purpose: "ztunnel inbound HBONE (in-pod; mTLS, probed with TLS and no client certificate)", TLS: true},
	{Number: 15053, Purpose: "ztunnel DNS proxy (in-pod, localhost only; inbound probes redirected to 15006)"},
}

// ZtunnelPortsSource is the citation of ztunnel's in-pod ports.
const ZtunnelPortsSource = "istio 1.27.1 cni/pkg/iptables/iptables.go (ZtunnelOutboundPort, ZtunnelInboundPlaintextPort, ZtunnelInboundPort, DNSCapturePort)"

// PlaintextPorts are the mesh's documented plaintext ports of a sidecar,
// which answer any caller without mTLS or policy, and what a probe asks
// them for. Istio 1.27.1's injection template
// (manifests/charts/istio-control/istio-discovery/files/injection-template.yaml)
// gives istio-iptables "-d 15090,15021,<status port>" (excludeInboundPort
// adds global.proxy.statusPort, 15020 by default): these three ports are
// never captured, so neither STRICT mTLS nor an AuthorizationPolicy
// applies to them, and istio.io lists them as not pod-internal. 15008 is
// not captured either (ISTIO_INBOUND returns it: Istio 1.27.1
// tools/istio-iptables/pkg/capture/run.go), but it is no plaintext port:
// Envoy listens there only when HBONE listening is on (pilot/pkg/model/
// context.go EnableHBONEListen: an ambient-enabled istiod and a proxy with
// ISTIO_META_ENABLE_HBONE, the ambient profile; the suites' sidecar
// installs use no profile), and then with TLS and a client certificate
// required (pilot/pkg/networking/core/listener_waypoint.go
// buildConnectTerminateListener). So a plaintext probe of it is refused
// either way: nothing listens (connection refused), or Envoy's BoringSSL
// closes a connection whose first bytes are "GET " without sending an
// alert (ssl/s3_both.cc tls_open_handshake, SSL_R_HTTP_REQUEST, no alert:
// curl sees an empty reply). It stays a plaintext probe in sidecar mode,
// which also catches an application listening on this one uncaptured
// port: a TLS probe would take such a listener's non-TLS answer for a
// failed handshake. 15090
// serves Envoy's /stats/prometheus, 15021 /healthz/ready, 15020 the
// agent's merged /stats/prometheus. Nothing else is informational: a port
// an application excludes from capture (traffic.sidecar.istio.io/
// excludeInboundPorts) is a bypass, and fails.
var PlaintextPorts = map[int32]string{
	15020: "/stats/prometheus",
	15021: "/healthz/ready",
	15090: "/stats/prometheus",
}

// PlaintextPortsSource is the citation of PlaintextPorts.
const PlaintextPortsSource = "istio 1.27.1 injection-template.yaml: istio-iptables -d 15090,15021,15020 (not captured by the sidecar)"

// Knative Serving 1.21 (knative.dev/serving v0.48) queue-proxy: its
// declared ports come from the pod spec (pkg/reconciler/revision/
// resources/queue.go: queue-port 8012 or h2c 8013, https-port 8112,
// http-autometric 9090, http-usermetric 9091, profiling-port 8008 when
// enabled); the admin server listens on ":8022" without declaring it
// (pkg/networking/constants.go QueueAdminPort, pkg/queue/sharedmain/
// main.go adminServer).
var queueProxyUndeclared = []Port{
	{Number: 8022, Purpose: "queue-proxy admin (health and drain; undeclared)"},
}

// QueueProxySource is the citation of queue-proxy's undeclared port.
const QueueProxySource = "knative serving v1.21.1 pkg/networking/constants.go QueueAdminPort, pkg/queue/sharedmain/main.go (listens on :8022)"

// Container names the mesh and Knative give their containers.
const (
	IstioProxy = "istio-proxy"
	QueueProxy = "queue-proxy"
)

// Enumerate lists every port of a pod that a bypass probe tries: every TCP
// container port of every container, native sidecars (init containers with
// restartPolicy Always) included; the target's undeclared application
// ports of the containers the pod has; the well-known ports of the mesh in
// mode; and queue-proxy's undeclared admin port when the pod has one.
// Plain init containers have exited and listen on nothing. Sorted by port;
// a port declared twice is listed once (its first declaration).
func Enumerate(pod *corev1.Pod, mode dataplane.Mode, undeclared ...Port) []Port {
	byNumber := map[int32]Port{}
	add := func(p Port) {
		if _, seen := byNumber[p.Number]; !seen {
			byNumber[p.Number] = p
		}
	}
	sidecar, queue := false, false
	var containers []corev1.Container
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			containers = append(containers, c)
		}
	}
	containers = append(containers, pod.Spec.Containers...)
	for _, c := range containers {
		sidecar = sidecar || c.Name == IstioProxy
		queue = queue || c.Name == QueueProxy
		for _, cp := range c.Ports {
			if cp.Protocol != "" && cp.Protocol != corev1.ProtocolTCP {
				continue // curl speaks TCP; UDP and SCTP ports are not probed
			}
			purpose := cp.Name
			if purpose == "" {
				purpose = "unnamed container port"
			}
			add(Port{Number: cp.ContainerPort, Container: c.Name, Purpose: purpose, Declared: true, Source: "pod spec", App: c.Name != IstioProxy})
		}
	}
	has := map[string]bool{}
	for _, c := range containers {
		has[c.Name] = true
	}
	for _, p := range undeclared {
		if has[p.Container] {
			p.Declared, p.App = false, true
			add(p)
		}
	}
	// The mesh's own listeners, whether or not declared: the sidecar's in
	// sidecar mode (probed even on a pod without one: they must refuse),
	// ztunnel's in-pod ones in ambient mode.
	wellKnown, owner, source := istioSidecarPorts, IstioProxy, IstioPortsSource
	if mode == dataplane.Ambient {
		wellKnown, owner, source = ztunnelInPodPorts, "ztunnel (in-pod)", ZtunnelPortsSource
	}
	for _, p := range wellKnown {
		p.Container, p.Source = owner, source
		add(p)
	}
	if queue {
		for _, p := range queueProxyUndeclared {
			p.Container, p.Source = QueueProxy, QueueProxySource
			add(p)
		}
	}
	out := make([]Port, 0, len(byNumber))
	for _, p := range byNumber {
		// Informational only where a sidecar runs: without one nothing
		// should answer there, and in ambient mode ztunnel captures every
		// port of the pod but 15008.
		if path, ok := PlaintextPorts[p.Number]; ok && sidecar && mode != dataplane.Ambient {
			p.Informational, p.Path, p.App = true, path, false
			if p.Declared {
				p.Source = "pod spec; " + PlaintextPortsSource
			} else {
				p.Source = PlaintextPortsSource
			}
		}
		if wk := wellKnownPurpose(p.Number, mode); wk != "" && p.Declared && p.Container == IstioProxy {
			p.Purpose += " (" + wk + ")"
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}

func wellKnownPurpose(n int32, mode dataplane.Mode) string {
	list := istioSidecarPorts
	if mode == dataplane.Ambient {
		list = ztunnelInPodPorts
	}
	for _, p := range list {
		if p.Number == n {
			return p.Purpose
		}
	}
	return ""
}
