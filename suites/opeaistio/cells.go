package opeaistio

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/secure-inference/mesh-conformance/tests/dataplane"

	"github.com/secure-inference/mesh-conformance/tests/bypass"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// The OPEA suite's clients: sleep in chatqna (enrolled in the mesh with its
// namespace) and in outside (not enrolled).
var (
	ClientInside  = matrix.Client{Name: "chatqna", Namespace: "chatqna", Selector: "app=sleep", Container: "sleep"}
	ClientOutside = matrix.Client{Name: "outside", Namespace: "outside", Selector: "app=sleep", Container: "sleep"}
)

const (
	// ChatQnANginxURL is nginx's own page: it needs no backend.
	ChatQnANginxURL = "http://chatqna-nginx.chatqna.svc.cluster.local/home"
	// GatewayHost matches the Certificate's *.intel.com.
	GatewayHost = "chatqna.intel.com"
	// OtherHost matches no server of the Gateway.
	OtherHost = "chatqna.example.com"
)

// Gateway is how the in-cluster clients reach the TLS ingress gateway.
type Gateway struct {
	// Address is an IP of the gateway (its Service's ClusterIP): curl's
	// --resolve needs an address to pin the SNI host to.
	Address string
	// CACertPEM is the issued certificate (self-signed, so its own CA):
	// trusting only it proves the gateway serves the issued certificate.
	CACertPEM string
}

func (g Gateway) request(scheme, host, port string) probe.Request {
	r := probe.Request{URL: scheme + "://" + host + "/home", Resolve: []string{host + ":" + port + ":" + g.Address}}
	if scheme == "https" {
		r.CACertPEM = g.CACertPEM
	}
	return r
}

// IngressAndMTLS is the OPEA matrix. With STRICT mTLS a client outside
// the mesh is refused below HTTP in both modes (a plaintext connection to a
// sidecar or to ztunnel is reset); the gateway reaches ChatQnA over mTLS
// (HBONE in ambient), so TLS ingress works from outside.
func IngressAndMTLS(mode dataplane.Mode, gw Gateway) matrix.Matrix {
	refused := matrix.Expect(matrix.DeniedL4).WithNote("STRICT mTLS: a plaintext client outside the mesh is reset (" + string(mode) + " mode)")
	return matrix.Matrix{Name: "opea-ingress-and-mtls", Cells: []matrix.Cell{
		{Name: "https-matching-sni", Client: ClientOutside, Request: gw.request("https", GatewayHost, "443"),
			Expect: matrix.Expect(matrix.Allowed).WithNote("TLS terminated by opea-gateway with the issued *.intel.com certificate")},
		{Name: "http-redirects-to-https", Client: ClientOutside, Request: gw.request("http", GatewayHost, "80"),
			Expect: matrix.Expect(matrix.Redirect).WithLocation("https://")},
		{Name: "https-other-sni-refused", Client: ClientOutside, Request: withInsecure(gw.request("https", OtherHost, "443")),
			Expect: matrix.Expect(matrix.TLSRefused)},
		{Name: "outside-mesh-to-chatqna-nginx", Client: ClientOutside, Request: probe.Request{URL: ChatQnANginxURL}, Expect: refused},
		{Name: "inside-mesh-to-chatqna-nginx", Client: ClientInside, Request: probe.Request{URL: ChatQnANginxURL}, Expect: matrix.Expect(matrix.Allowed)},
	}}
}

func withInsecure(r probe.Request) probe.Request {
	r.Insecure, r.CACertPEM = true, ""
	return r
}

// StrictControl is the control: with the PeerAuthentication removed,
// the outside client reaches chatqna-nginx, or the refusal was not mTLS.
func StrictControl() matrix.Matrix {
	return matrix.Matrix{Name: "opea-strict-control", Cells: []matrix.Cell{{
		Name: "outside-mesh-to-chatqna-nginx-without-strict", Client: ClientOutside, Request: probe.Request{URL: ChatQnANginxURL},
		Expect: matrix.Expect(matrix.Allowed).WithNote("control: PeerAuthentication default removed from chatqna"),
	}}}
}

// ChatQnAQuery is the document's own request through the TLS ingress,
// POST /v1/chatqna (curl -ks https://${DNS}/v1/chatqna -d '{"messages":
// "What is the TLS?"}'), here with the issued certificate trusted instead of
// -k. Only the full profile runs the backends that answer it; the model's
// first answer may take a while on CPU, hence its own request timeout.
func ChatQnAQuery(gw Gateway) matrix.Cell {
	r := gw.request("https", GatewayHost, "443")
	r.URL = "https://" + GatewayHost + "/v1/chatqna"
	r.Method, r.Body = "POST", `{"messages": "What is the TLS?"}`
	r.Headers = map[string]string{"Content-Type": "application/json"}
	r.Timeout = 2 * time.Minute
	return matrix.Cell{Name: "https-chatqna-query", Client: ClientOutside, Request: r,
		Expect: matrix.Expect(matrix.Allowed).WithNote("full profile: the document's POST /v1/chatqna through the TLS ingress")}
}

// HostTLS is TLS ingress as this machine reaches it at addr (HOST:PORT):
// with a matching SNI the gateway serves the issued certificate (curl
// trusts only it, so any other certificate fails the cell), with another
// SNI it refuses the handshake.
func HostTLS(addr, caCertPEM string) matrix.Matrix {
	matching := harness.HostRequest("https", GatewayHost, addr, "/home")
	matching.CACertPEM = caCertPEM
	other := harness.HostRequest("https", OtherHost, addr, "/home")
	other.Insecure = true
	return matrix.Matrix{Name: "opea-host-tls-ingress", Cells: []matrix.Cell{
		{Name: "host-https-matching-sni", Client: harness.ClientHost, Request: matching,
			Expect: matrix.Expect(matrix.Allowed).WithNote("the issued *.intel.com certificate, as reached from outside the cluster")},
		{Name: "host-https-other-sni-refused", Client: harness.ClientHost, Request: other, Expect: matrix.Expect(matrix.TLSRefused)},
	}}
}

// Models are the ChatQnA chart's model names, which a bypass probe's
// refusal must not reveal and a metrics page is searched for, as
// substrings of their Hugging Face IDs: the LLM that TGI serves
// (Intel/neural-chat-7b-v3-3: chatqna's tgi.LLM_MODEL_ID, equal to the tgi
// chart's default) and the embedding and reranking models, the tei and
// teirerank charts' defaults, which chatqna 1.1.0 does not override
// (BAAI/bge-base-en-v1.5, BAAI/bge-reranker-base). Read in GenAIInfra v1.1
// (5067b89f): helm-charts/chatqna/values.yaml and
// helm-charts/common/{tgi,tei,teirerank}/values.yaml.
var Models = []string{"neural-chat-7b-v3-3", "bge-base-en-v1.5", "bge-reranker-base"}

// NginxHTTP is chatqna-nginx's listener: ChatQnA 1.1.0's own nginx
// Deployment (not the common nginx subchart, which 1.1.0 does not use)
// runs one container "nginx" that declares no port and listens on 80, the
// chatqna-nginx Service's targetPort.
var NginxHTTP = bypass.Port{Number: 80, Container: "nginx", Purpose: "nginx http (undeclared; the Service's targetPort)",
	Source: "GenAIInfra v1.1 (5067b89f) helm-charts/chatqna/templates/nginx-deployment.yaml: no ports, listen 80, Service targetPort 80"}

// BypassTargets is chatqna-nginx, the protected entry of ChatQnA: its pods
// by the label the enrollment premise uses, its undeclared port 80; the
// sketch (for --dry-run) is its one container.
func BypassTargets() []bypass.Target {
	return []bypass.Target{{Workload: ChatQnANginx, Namespace: ChatQnANamespace, Selector: NginxSelector,
		Models: Models, Undeclared: []bypass.Port{NginxHTTP}, Sketch: []corev1.Container{{Name: "nginx"}}}}
}

// BypassClients: the suite's only caller that must be refused is the
// client outside the mesh (its in-mesh client shares chatqna's namespace,
// which STRICT admits).
var BypassClients = []matrix.Client{ClientOutside}
