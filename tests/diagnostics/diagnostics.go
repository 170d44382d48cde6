// Package diagnostics writes, when a check fails, what a person needs to
// see why: pods, deployments, events and logs of the namespaces involved, the mesh
// policies, the proxies' view (a sidecar's config dump, or ztunnel's logs
// and config), and any resource a suite names. The bundle is bounded in
// size: every file and the whole bundle have a cap.
package diagnostics

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/redact"
)

// Limits: of a file, of a bundle, and of all the bundles of a run.
const (
	MaxFileBytes   = 256 << 10
	MaxBundleBytes = 16 << 20
	MaxRunBytes    = 64 << 20
	logTailLines   = 400
)

// Collector writes bundles.
type Collector struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	// Istio reads the mesh's policies, gateways and virtual services in
	// Istio's own types for every bundle.
	Istio istioclient.Interface
	// Config reaches the pods' admin ports by port-forward.
	Config *rest.Config
	// Redact scrubs the run's secrets from every file: pod specs and logs can carry a
	// token given to a workload (ChatQnA's Hugging Face token).
	Redact redact.Redactor
	// Extra are suite-specific resources to dump, e.g. KServe's
	// inferenceservice-config or Knative's ServerlessServices.
	Extra []Extra

	mu    sync.Mutex
	total int64 // bytes written by every bundle of the run
}

// Extra is a resource kind a suite wants in its bundles.
type Extra struct {
	GVR       schema.GroupVersionResource
	Namespace string
	Name      string // empty: all of the namespace
}

// Failure is what a bundle explains.
type Failure struct {
	// Summary is written first, as summary.txt: the matrix table, or the
	// error of a setup step or check.
	Summary string
	// Namespaces get their pods, deployments, events and logs; those also
	// in ProxyNamespaces get the Envoy configuration of their sidecars.
	Namespaces, ProxyNamespaces []string
}

// MatrixFailure explains a failed matrix: the namespaces its cells touch,
// and the proxies only where cells failed (a config dump is large).
func MatrixFailure(res matrix.Result) Failure {
	return Failure{Summary: res.Table(), Namespaces: Namespaces(res.Cells), ProxyNamespaces: Namespaces(res.Failed())}
}

// Bundle writes the diagnostics of a failure into dir and returns the files
// written. Errors reading one item are written into the bundle, never
// returned: a diagnostics failure must not hide the test failure.
func (c *Collector) Bundle(ctx context.Context, dir string, f Failure) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	b := &bundle{c: c, dir: dir}
	b.write("summary.txt", []byte(f.Summary))
	for _, ns := range f.Namespaces {
		c.namespace(ctx, ns, slices.Contains(f.ProxyNamespaces, ns), b.write)
	}
	c.istioResources(ctx, b.write)
	for _, e := range c.Extra {
		c.dump(ctx, e.GVR, e.Namespace, e.Name, b.write)
	}
	c.ztunnel(ctx, b.write)
	if len(b.dropped) > 0 {
		b.write("DROPPED.txt", []byte("size limit reached (a bundle, or all bundles of the run); not written:\n"+strings.Join(b.dropped, "\n")+"\n"))
	}
	return b.files, nil
}

// serviceHost captures the namespace of a <svc>.<ns>.svc.cluster.local URL.
var serviceHost = regexp.MustCompile(`^[a-z]+://[a-z0-9-]+\.([a-z0-9-]+)\.svc\.cluster\.local`)

// Namespaces lists the namespaces that cells touch: their clients' and
// their targets' (from <svc>.<ns>.svc.cluster.local hosts).
func Namespaces(cells []matrix.CellResult) []string {
	set := map[string]bool{}
	for _, c := range cells {
		if c.Client.Namespace != "" { // not the test machine's own client
			set[c.Client.Namespace] = true
		}
		if m := serviceHost.FindStringSubmatch(c.Request.URL); m != nil {
			set[m[1]] = true
		}
	}
	var out []string
	for ns := range set {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// namespace writes the pods, events, deployments and container logs of ns;
// with proxies, also the Envoy configuration of every running pod that has
// an istio-proxy sidecar (plain or native): listeners with their RBAC
// filters, clusters with their TLS settings, and the certificates' metadata
// (Envoy redacts private keys).
func (c *Collector) namespace(ctx context.Context, ns string, proxies bool, write func(string, []byte)) {
	pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	write(ns+"/pods.yaml", toYAML(pods, err))
	events, err := c.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	write(ns+"/events.yaml", toYAML(events, err))
	// Their status says why pods are missing or not ready.
	deployments, err := c.Kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	write(ns+"/deployments.yaml", toYAML(deployments, err))
	if pods == nil {
		return
	}
	for _, p := range pods.Items {
		for _, ct := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
			write(fmt.Sprintf("%s/logs/%s.%s.log", ns, p.Name, ct.Name), c.logs(ctx, ns, p.Name, ct.Name))
			if proxies && ct.Name == "istio-proxy" && p.Status.Phase == corev1.PodRunning {
				write(fmt.Sprintf("%s/proxy/%s.config_dump.json", ns, p.Name), c.admin(ctx, ns, p.Name, "config_dump"))
			}
		}
	}
}

// admin GETs path from the pod's proxy admin port; a failure is written in
// place of the dump.
func (c *Collector) admin(ctx context.Context, ns, pod, path string) []byte {
	data, err := AdminGet(ctx, c.Config, c.Kube, ns, pod, ProxyAdminPort, path, MaxFileBytes+1)
	if err != nil {
		return append(data, []byte(fmt.Sprintf("\n%s unavailable: %v\n", path, err))...)
	}
	return data
}

func (c *Collector) logs(ctx context.Context, ns, pod, container string) []byte {
	lines, limit := int64(logTailLines), int64(MaxFileBytes)
	rc, err := c.Kube.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, TailLines: &lines, LimitBytes: &limit}).Stream(ctx)
	if err != nil {
		return []byte("logs unavailable: " + err.Error())
	}
	defer rc.Close()
	data, _ := io.ReadAll(io.LimitReader(rc, MaxFileBytes))
	return data
}

// ztunnel dumps, when ambient runs, ztunnel's logs and its view of the
// mesh: the config_dump of its admin port holds the workloads (with their
// protocol, HBONE or TCP), services, policies and certificates it knows.
func (c *Collector) ztunnel(ctx context.Context, write func(string, []byte)) {
	pods, err := c.Kube.CoreV1().Pods("istio-system").List(ctx, metav1.ListOptions{LabelSelector: "app=ztunnel"})
	if err != nil || len(pods.Items) == 0 {
		return
	}
	for _, p := range pods.Items {
		write("istio-system/ztunnel/"+p.Name+".log", c.logs(ctx, "istio-system", p.Name, "istio-proxy"))
		if p.Status.Phase == corev1.PodRunning {
			write("istio-system/ztunnel/"+p.Name+".config_dump.json", c.admin(ctx, "istio-system", p.Name, "config_dump"))
		}
	}
}

func (c *Collector) dump(ctx context.Context, gvr schema.GroupVersionResource, ns, name string, write func(string, []byte)) {
	file := filepath.Join("resources", gvr.Resource+".yaml")
	if ns != "" {
		file = filepath.Join("resources", ns, gvr.Resource+".yaml")
	}
	var ri dynamic.ResourceInterface = c.Dynamic.Resource(gvr)
	if ns != "" {
		ri = c.Dynamic.Resource(gvr).Namespace(ns)
	}
	if name != "" {
		obj, err := ri.Get(ctx, name, metav1.GetOptions{})
		write(file, toYAML(obj, err))
		return
	}
	list, err := ri.List(ctx, metav1.ListOptions{})
	if err != nil && strings.Contains(err.Error(), "the server could not find the requested resource") {
		return // the API is not installed: nothing to say
	}
	write(file, toYAML(list, err))
}

// istioResources writes every PeerAuthentication, AuthorizationPolicy,
// Gateway and VirtualService of the cluster, read with Istio's typed
// client: what a refusal or its absence rests on.
func (c *Collector) istioResources(ctx context.Context, write func(string, []byte)) {
	if c.Istio == nil {
		return
	}
	all := metav1.ListOptions{}
	file := func(resource string) string { return filepath.Join("resources", resource+".yaml") }
	put := func(resource string, list any, err error) {
		if err != nil && apierrors.IsNotFound(err) {
			return // Istio's API is not installed: nothing to say
		}
		write(file(resource), toYAML(list, err))
	}
	pa, err := c.Istio.SecurityV1().PeerAuthentications("").List(ctx, all)
	put("peerauthentications", pa, err)
	ap, err := c.Istio.SecurityV1().AuthorizationPolicies("").List(ctx, all)
	put("authorizationpolicies", ap, err)
	gw, err := c.Istio.NetworkingV1().Gateways("").List(ctx, all)
	put("gateways", gw, err)
	vs, err := c.Istio.NetworkingV1().VirtualServices("").List(ctx, all)
	put("virtualservices", vs, err)
}

func toYAML(v any, err error) []byte {
	if err != nil {
		return []byte("error: " + err.Error() + "\n")
	}
	data, merr := yaml.Marshal(v)
	if merr != nil {
		return []byte("error: " + merr.Error() + "\n")
	}
	return data
}

// bundle is one bundle being written.
type bundle struct {
	c       *Collector
	dir     string
	written int64
	files   []string
	dropped []string
}

// write stores one file, truncated to MaxFileBytes, unless the bundle or
// the run is full (then the name is listed in DROPPED.txt).
func (b *bundle) write(name string, data []byte) {
	data = b.c.Redact.Bytes(data)
	if len(data) > MaxFileBytes {
		data = append(data[:MaxFileBytes], []byte("\n... truncated ...\n")...)
	}
	n := int64(len(data))
	b.c.mu.Lock()
	full := name != "DROPPED.txt" && (b.written+n > MaxBundleBytes || b.c.total+n > MaxRunBytes)
	if !full {
		b.c.total += n
	}
	b.c.mu.Unlock()
	if full {
		b.dropped = append(b.dropped, name)
		return
	}
	path := filepath.Join(b.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return
	}
	b.written += n
	b.files = append(b.files, path)
}
