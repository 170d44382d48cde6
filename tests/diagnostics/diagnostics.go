// Package diagnostics writes, when a check fails, what a person needs to
// see why: pods, events and logs of the namespaces involved, the mesh
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
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// Limits of a bundle.
const (
	MaxFileBytes   = 256 << 10
	MaxBundleBytes = 16 << 20
	logTailLines   = 400
)

// Resources a bundle always dumps when their API is served.
var Policies = []schema.GroupVersionResource{
	{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"},
	{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"},
	{Group: "networking.istio.io", Version: "v1", Resource: "gateways"},
	{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"},
}

// Collector writes bundles.
type Collector struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	Exec    probe.Executor
	// Extra are suite-specific resources to dump, e.g. KServe's
	// inferenceservice-config or Knative's ServerlessServices.
	Extra []Extra

	mu      sync.Mutex
	written int64
	dropped []string
}

// Extra is a resource kind a suite wants in its bundles.
type Extra struct {
	GVR       schema.GroupVersionResource
	Namespace string
	Name      string // empty: all of the namespace
}

// Bundle writes diagnostics of a failed matrix into dir and returns the
// files written. Errors reading one item are written into the bundle, never
// returned: a diagnostics failure must not hide the test failure.
func (c *Collector) Bundle(ctx context.Context, dir string, res matrix.Result) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	write := func(name string, data []byte) {
		if f := c.write(dir, name, data); f != "" {
			files = append(files, f)
		}
	}
	write("matrix.txt", []byte(res.Table()))
	namespaces := Namespaces(res)
	for _, ns := range namespaces {
		c.namespace(ctx, ns, write)
	}
	for _, gvr := range Policies {
		c.dump(ctx, gvr, "", "", write)
	}
	for _, e := range c.Extra {
		c.dump(ctx, e.GVR, e.Namespace, e.Name, write)
	}
	c.ztunnel(ctx, write)
	if len(c.dropped) > 0 {
		write("DROPPED.txt", []byte("bundle size limit reached; not written:\n"+strings.Join(c.dropped, "\n")+"\n"))
	}
	return files, nil
}

// serviceHost captures the namespace of a <svc>.<ns>.svc.cluster.local URL.
var serviceHost = regexp.MustCompile(`^[a-z]+://[a-z0-9-]+\.([a-z0-9-]+)\.svc\.cluster\.local`)

// Namespaces lists the namespaces a matrix touches: its clients' and its
// targets' (from <svc>.<ns>.svc.cluster.local hosts).
func Namespaces(res matrix.Result) []string {
	set := map[string]bool{}
	for _, c := range res.Cells {
		set[c.Client.Namespace] = true
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

func (c *Collector) namespace(ctx context.Context, ns string, write func(string, []byte)) {
	pods, err := c.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	write(ns+"/pods.yaml", toYAML(pods, err))
	events, err := c.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	write(ns+"/events.yaml", toYAML(events, err))
	if pods == nil {
		return
	}
	for _, p := range pods.Items {
		for _, ct := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
			write(fmt.Sprintf("%s/logs/%s.%s.log", ns, p.Name, ct.Name), c.logs(ctx, ns, p.Name, ct.Name))
			if ct.Name == "istio-proxy" && p.Status.Phase == corev1.PodRunning {
				out, stderr, err := c.Exec.Exec(ctx, probe.Pod{Namespace: ns, Name: p.Name, Container: "istio-proxy"},
					[]string{"pilot-agent", "request", "GET", "config_dump"})
				if err != nil {
					out = []byte(fmt.Sprintf("config_dump failed: %v %s", err, stderr))
				}
				write(fmt.Sprintf("%s/proxy/%s.config_dump.json", ns, p.Name), out)
			}
		}
	}
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

// ztunnel dumps ztunnel's logs and its workload view (admin :15000
// config_dump through the API server's pod proxy) when ambient runs.
func (c *Collector) ztunnel(ctx context.Context, write func(string, []byte)) {
	pods, err := c.Kube.CoreV1().Pods("istio-system").List(ctx, metav1.ListOptions{LabelSelector: "app=ztunnel"})
	if err != nil || len(pods.Items) == 0 {
		return
	}
	for _, p := range pods.Items {
		write("istio-system/ztunnel/"+p.Name+".log", c.logs(ctx, "istio-system", p.Name, "istio-proxy"))
		data, err := c.Kube.CoreV1().Pods("istio-system").ProxyGet("http", p.Name, "15000", "config_dump", nil).DoRaw(ctx)
		if err != nil {
			data = []byte("config_dump unavailable: " + err.Error())
		}
		write("istio-system/ztunnel/"+p.Name+".config_dump.json", data)
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

// write stores one file, truncated to MaxFileBytes, unless the bundle is
// full; it returns the path written.
func (c *Collector) write(dir, name string, data []byte) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(data) > MaxFileBytes {
		data = append(data[:MaxFileBytes], []byte("\n... truncated ...\n")...)
	}
	if c.written+int64(len(data)) > MaxBundleBytes && name != "DROPPED.txt" {
		c.dropped = append(c.dropped, name)
		return ""
	}
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return ""
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return ""
	}
	c.written += int64(len(data))
	return path
}
