package install

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/apply"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/detect"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/ready"
	"github.com/secure-inference/mesh-conformance/tests/versions"
)

// Installer installs components on one cluster.
type Installer struct {
	Kube     kubernetes.Interface
	Apply    *apply.Applier
	Helm     *Helm
	Opts     options.Options
	Versions versions.Set
	// Suite names the fixtures folder the releases' Helm values come from
	// (fixtures/<Suite>/<release>.values.yaml): the values are the
	// documented setup's, as the OPEA helmfile keeps them beside it.
	Suite string
	// Wait turns on readiness waits. The API server tier turns it off:
	// nothing runs pods there.
	Wait bool
	// Skip names parts the run's plan leaves as found (detect's names:
	// istio, istio-gateway, istio-cni, ztunnel): their releases are not
	// installed.
	Skip map[string]bool
	Logf func(format string, args ...any)
}

func (in *Installer) logf(format string, args ...any) {
	if in.Logf != nil {
		in.Logf(format, args...)
	}
}

// NewRelease is a release of a chart with the run's readiness waits and
// install timeout: the releases of this package, and a suite's own chart
// (suites/opeaistio's ChatQnA).
func (in *Installer) NewRelease(name, namespace string, chart ChartRef, values map[string]any) Release {
	return Release{Name: name, Namespace: namespace, Chart: chart, Values: values, Wait: in.Wait, Timeout: in.Opts.Timeouts.InstallTimeout}
}

// valuesFile names a release's values file in a suite's fixtures:
// <release>.<mode>.values.yaml where the values depend on the mesh mode
// (istiod's profile), else <release>.values.yaml. Every release has one,
// empty when the chart's defaults are the setup, so that a reader finds
// all of a setup's values in its folder and the render test holds each
// file to its chart.
func valuesFile(suite, release string, mode dataplane.Mode) (string, error) {
	if suite == "" {
		return "", fmt.Errorf("the installer has no suite (install.Installer.Suite) to take the values of release %s from", release)
	}
	var tried []string
	if mode != "" {
		tried = append(tried, fmt.Sprintf("%s/%s.%s.values.yaml", suite, release, mode))
	}
	tried = append(tried, fmt.Sprintf("%s/%s.values.yaml", suite, release))
	for _, name := range tried {
		if _, err := fs.Stat(fixtures.FS, name); err == nil {
			return name, nil
		}
	}
	return "", fmt.Errorf("release %s has no values file in fixtures: tried %s", release, strings.Join(tried, ", "))
}

// releaseValues reads a release's values from the suite's fixtures.
func (in *Installer) releaseValues(release string, mode dataplane.Mode) (map[string]any, error) {
	name, err := valuesFile(in.Suite, release, mode)
	if err != nil {
		return nil, err
	}
	v, err := fixtures.Values(name)
	if v == nil && err == nil {
		// A file of comments only: the chart's defaults.
		v = map[string]any{}
	}
	return v, err
}

// valuedRelease is release with the values of the suite's file.
func (in *Installer) valuedRelease(name, namespace string, chart ChartRef, mode dataplane.Mode) (Release, error) {
	v, err := in.releaseValues(name, mode)
	return in.NewRelease(name, namespace, chart, v), err
}

// Gateway is an Istio ingress gateway released from the istio/gateway chart.
type Gateway struct {
	// Name is the release name; the chart labels the pods app=<Name> and
	// istio=<Name without "istio-">.
	Name, Namespace string
	// NodePorts pins Service ports to node ports (by port name) so that a
	// kind config can map them to the host.
	NodePorts map[string]int
}

// istioChartPaths are the charts' folders in Istio's source tree
// (manifests/charts), for a directory chart source.
var istioChartPaths = map[string]string{
	"base": "base", "istiod": "istio-control/istio-discovery", "cni": "istio-cni", "ztunnel": "ztunnel", "gateway": "gateway",
}

func (in *Installer) istioChart(name string) ChartRef {
	return ChartRef{Source: in.Opts.ChartSource("istio"), Name: name, Path: istioChartPaths[name], Version: in.Versions.Istio}
}

// istioReleases lists the Istio releases of a mode, in install order:
// base, istiod, then (ambient) CNI and ztunnel, then the gateways. This is
// the order of the OPEA helmfile and of Istio's ambient install guide.
// Each release's values are its file in fixtures/<Suite>/; a missing file
// is an error.
func (in *Installer) istioReleases(mode dataplane.Mode, gateways ...Gateway) ([]Release, error) {
	ns := "istio-system"
	type part struct {
		release, chart string
		// inMode: the mode has this release; component: the name the
		// run's plan (Skip) knows it by.
		inMode    bool
		component string
	}
	ambient := mode == dataplane.Ambient
	parts := []part{
		{"istio-base", "base", true, detect.Istio},
		{"istiod", "istiod", true, detect.Istio},
		{"istio-cni", "cni", ambient, detect.IstioCNI},
		{"ztunnel", "ztunnel", ambient, detect.Ztunnel},
	}
	var rels []Release
	for _, p := range parts {
		if !p.inMode {
			continue
		}
		if in.Skip[p.component] {
			// Said, so that a left-out release is never a silently
			// skipped readiness wait.
			in.logf("istio: release %s left out (the run leaves %s as found): not installed, not waited for", p.release, p.component)
			continue
		}
		r, err := in.valuedRelease(p.release, ns, in.istioChart(p.chart), mode)
		if err != nil {
			return nil, err
		}
		if istioImageCharts[p.chart] {
			if err := in.overrideIstioImages(r.Values); err != nil {
				return nil, fmt.Errorf("release %s: %w", p.release, err)
			}
		}
		rels = append(rels, r)
	}
	for _, g := range gateways {
		if in.Skip[detect.IstioGateway] {
			in.logf("istio: gateway release %s left out (the run leaves it as found): not installed, not waited for", g.Name)
			continue
		}
		if !in.Opts.OwnKindCluster() {
			// Node ports are the API server's to choose on any other
			// cluster: only the suite's own kind config maps these.
			g.NodePorts = nil
		}
		r, err := in.valuedRelease(g.Name, g.Namespace, in.istioChart("gateway"), mode)
		if err != nil {
			return nil, err
		}
		if err := pinNodePorts(r.Values, g.NodePorts); err != nil {
			return nil, fmt.Errorf("gateway %s: %w", g.Name, err)
		}
		rels = append(rels, r)
	}
	return rels, nil
}

// istioImageCharts are the Istio charts that render images from
// global.hub and global.tag: istiod (pilot, and proxyv2 in the injection
// template that sidecars and the gateways' "auto" image get), istio-cni
// (install-cni) and ztunnel, whose zzz_profile.yaml flattens global onto
// its own hub and tag. The base chart runs nothing; the gateway chart's
// image is injected by istiod.
var istioImageCharts = map[string]bool{"istiod": true, "cni": true, "ztunnel": true}

// overrideIstioImages sets global.hub (and global.tag, when given) from
// the run's --image istio=HUB[:TAG] over the values file's: the registry is
// the run's (a mirror, or the lab's local images), not the setup's. The
// profile's variant (ambient: distroless) stays, as a mirror keeps the
// upstream tags.
func (in *Installer) overrideIstioImages(values map[string]any) error {
	hub, tag, ok := in.Opts.Image("istio")
	if !ok {
		return nil
	}
	if err := unstructured.SetNestedField(values, hub, "global", "hub"); err != nil {
		return fmt.Errorf("global.hub: %w", err)
	}
	if tag != "" {
		if err := unstructured.SetNestedField(values, tag, "global", "tag"); err != nil {
			return fmt.Errorf("global.tag: %w", err)
		}
	}
	return nil
}

// pinNodePorts sets the nodePort of each of the values' service.ports by
// port name: the ports are the setup's (its values file), the node ports
// the run's (the suite's own kind config maps them to the host). A name
// the file lacks is an error, or a renamed port would silently lose its
// mapping.
func pinNodePorts(values map[string]any, nodePorts map[string]int) error {
	if len(nodePorts) == 0 {
		return nil
	}
	ports, _, err := unstructured.NestedFieldNoCopy(values, "service", "ports")
	if err != nil {
		return fmt.Errorf("service.ports: %w", err)
	}
	list, _ := ports.([]any)
	pinned := map[string]bool{}
	for _, p := range list {
		m, ok := p.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["name"].(string)
		if np, ok := nodePorts[name]; ok {
			m["nodePort"] = np
			pinned[name] = true
		}
	}
	for name := range nodePorts {
		if !pinned[name] {
			return fmt.Errorf("no port named %q in the values' service.ports to give node port %d", name, nodePorts[name])
		}
	}
	return nil
}

// Istio installs or upgrades Istio for a mode, with gateways.
func (in *Installer) Istio(ctx context.Context, mode dataplane.Mode, gateways ...Gateway) error {
	if err := versions.CheckIstio(in.Versions.Istio, mode == dataplane.Ambient); err != nil {
		return err
	}
	rels, err := in.istioReleases(mode, gateways...)
	if err != nil {
		return err
	}
	for _, r := range rels {
		if _, err := in.Helm.Upgrade(ctx, r); err != nil {
			return err
		}
		// Helm's wait passes a DaemonSet with maxUnavailable pods missing:
		// on one node, istio-cni with none ready. Wait for every node.
		if ds, ok := istioDaemonSets[r.Name]; ok && in.Wait {
			if err := ready.DaemonSet(ctx, in.Kube, r.Namespace, ds, in.Opts.Timeouts.ReadyTimeout); err != nil {
				return err
			}
		}
	}
	return nil
}

// istioDaemonSets are the DaemonSets of the ambient releases, by release.
var istioDaemonSets = map[string]string{"istio-cni": "istio-cni-node", "ztunnel": "ztunnel"}

// certManagerRelease is cert-manager's release, with the suite's values
// and the run's --image cert-manager override.
func (in *Installer) certManagerRelease() (Release, error) {
	r, err := in.valuedRelease("cert-manager", "cert-manager",
		ChartRef{Source: in.Opts.ChartSource("cert-manager"), Name: "cert-manager", Version: in.Versions.CertManager}, "")
	if err != nil {
		return r, err
	}
	return r, in.overrideCertManagerImages(r.Values)
}

// certManagerImages are the cert-manager chart's image blocks and the
// image name each one's default repository ends in
// (quay.io/jetstack/<name>, values.yaml of v1.16 and v1.17); the chart
// renders <registry/>repository:tag, and gives the controller the
// acmesolver image as --acme-http01-solver-image.
var certManagerImages = map[string]string{
	"image":                 "cert-manager-controller",
	"webhook.image":         "cert-manager-webhook",
	"cainjector.image":      "cert-manager-cainjector",
	"acmesolver.image":      "cert-manager-acmesolver",
	"startupapicheck.image": "cert-manager-startupapicheck",
}

// overrideCertManagerImages sets each image block's repository to
// HUB/<its image name> (and its tag, when given) from the run's --image
// cert-manager=HUB[:TAG]: the chart has no single hub value.
func (in *Installer) overrideCertManagerImages(values map[string]any) error {
	hub, tag, ok := in.Opts.Image("cert-manager")
	if !ok {
		return nil
	}
	for block, name := range certManagerImages {
		path := strings.Split(block, ".")
		if err := unstructured.SetNestedField(values, hub+"/"+name, append(path, "repository")...); err != nil {
			return fmt.Errorf("%s.repository: %w", block, err)
		}
		if tag != "" {
			if err := unstructured.SetNestedField(values, tag, append(path, "tag")...); err != nil {
				return fmt.Errorf("%s.tag: %w", block, err)
			}
		}
	}
	return nil
}

// CertManager installs cert-manager with its CRDs (crds.enabled=true in
// the suite's values).
func (in *Installer) CertManager(ctx context.Context) error {
	r, err := in.certManagerRelease()
	if err != nil {
		return err
	}
	_, err = in.Helm.Upgrade(ctx, r)
	return err
}

// GatewayAPICRDs applies the Gateway API standard-channel CRDs: from
// <source>/<version>/standard-install.yaml, or every *.yaml of a directory
// source.
func (in *Installer) GatewayAPICRDs(ctx context.Context) error {
	src := in.Opts.ChartSource("gateway-api")
	var objs []*unstructured.Unstructured
	if isRemote(src) {
		url := strings.TrimSuffix(src, "/") + "/" + in.Versions.GatewayAPI + "/standard-install.yaml"
		data, err := fetch(ctx, url, in.Opts.Timeouts.InstallTimeout)
		if err != nil {
			return err
		}
		if objs, err = apply.Decode(url, data); err != nil {
			return err
		}
	} else {
		files, _ := filepath.Glob(filepath.Join(src, "*.yaml"))
		if len(files) == 0 {
			return fmt.Errorf("gateway-api source %s holds no *.yaml", src)
		}
		sort.Strings(files)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			o, err := apply.Decode(f, data)
			if err != nil {
				return err
			}
			objs = append(objs, o...)
		}
	}
	if err := in.Apply.Apply(ctx, objs...); err != nil {
		return err
	}
	return in.Apply.WaitEstablished(ctx, in.Opts.Timeouts.ReadyTimeout, objs...)
}

func fetch(ctx context.Context, url string, limit time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching %s: HTTP %d", url, resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 32<<20))
}

// KnativeOperatorChart is the Knative operator chart of a Knative release:
// KServe's own scripts install Knative Serving through it.
func (in *Installer) KnativeOperatorChart() ChartRef {
	src := in.Opts.ChartSource("knative")
	v := "v" + strings.TrimPrefix(in.Versions.KnativeServing, "v")
	if isRemote(src) && !strings.HasSuffix(src, ".tgz") {
		src = fmt.Sprintf("%s/operator/releases/download/knative-%s/knative-operator-%s.tgz", strings.TrimSuffix(src, "/"), v, v)
	}
	return ChartRef{Source: src, Name: "knative-operator"}
}

func (in *Installer) knativeOperatorRelease() (Release, error) {
	r, err := in.valuedRelease("knative-operator", "knative-operator", in.KnativeOperatorChart(), "")
	if err != nil {
		return r, err
	}
	return r, in.overrideKnativeOperatorImages(r.Values)
}

// knativeImage is HUB/<name>:TAG of the run's --image knative=HUB[:TAG]
// (TAG defaults to the Knative release's, v1.21.1); ok is false without
// the override. Knative's images are named by Go import path and pinned by
// digest upstream, so a mirror names them by their short names:
// operator, operator-webhook, and knativeServingImages' values.
func (in *Installer) knativeImage(name string) (string, bool) {
	hub, tag, ok := in.Opts.Image("knative")
	if !ok {
		return "", false
	}
	if tag == "" {
		tag = "v" + strings.TrimPrefix(in.Versions.KnativeServing, "v")
	}
	return hub + "/" + name + ":" + tag, true
}

// overrideKnativeOperatorImages sets the operator chart's two images
// (image and tag of knative_operator.knative_operator and
// knative_operator.operator_webhook) from --image knative.
func (in *Installer) overrideKnativeOperatorImages(values map[string]any) error {
	if _, _, ok := in.Opts.Image("knative"); !ok {
		return nil
	}
	for block, name := range map[string]string{"knative_operator": "operator", "operator_webhook": "operator-webhook"} {
		ref, _ := in.knativeImage(name)
		repo, tag := options.SplitImageRef(ref)
		for field, v := range map[string]string{"image": repo, "tag": tag} {
			if err := unstructured.SetNestedField(values, v, "knative_operator", block, field); err != nil {
				return fmt.Errorf("knative_operator.%s.%s: %w", block, field, err)
			}
		}
	}
	return nil
}

// knativeServingImages are the keys of the KnativeServing's
// spec.registry.override, as the operator matches them
// (pkg/reconciler/common/images.go: deployment/container first, then the
// container name, or a caching Image's name), and the image each one gets
// from --image knative: every container the operator deploys for Serving
// 1.21 with net-istio (its kodata knative-serving/1.21.1 and
// ingress/1.21/istio), the post-install Jobs' included. net-istio's
// containers repeat Serving's names (controller, webhook), so they are
// keyed by deployment. queue-proxy is the caching Image's name; the
// queue-proxy revisions run is config-deployment's queue-sidecar-image,
// which the override does not reach (operator v0.48.1), so
// knativeServingObjects sets that too.
var knativeServingImages = map[string]string{
	"activator": "activator", "autoscaler": "autoscaler", "controller": "controller", "webhook": "webhook",
	"autoscaler-hpa": "autoscaler-hpa", "migrate": "migrate", "cleanup": "cleanup", "queue-proxy": "queue",
	"net-istio-controller/controller": "net-istio-controller", "net-istio-webhook/webhook": "net-istio-webhook",
}

// knativeServingObjects sets the KnativeServing's version to the pinned
// Knative release and, with --image knative, its registry override and
// queue-sidecar-image.
func (in *Installer) knativeServingObjects(objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		if o.GetKind() != "KnativeServing" {
			continue
		}
		if err := unstructured.SetNestedField(o.Object, strings.TrimPrefix(in.Versions.KnativeServing, "v"), "spec", "version"); err != nil {
			return err
		}
		if _, _, ok := in.Opts.Image("knative"); !ok {
			continue
		}
		for key, name := range knativeServingImages {
			ref, _ := in.knativeImage(name)
			if err := unstructured.SetNestedField(o.Object, ref, "spec", "registry", "override", key); err != nil {
				return fmt.Errorf("spec.registry.override: %w", err)
			}
		}
		queue, _ := in.knativeImage(knativeServingImages["queue-proxy"])
		if err := unstructured.SetNestedField(o.Object, queue, "spec", "config", "deployment", "queue-sidecar-image"); err != nil {
			return fmt.Errorf("spec.config.deployment: %w", err)
		}
	}
	return nil
}

// KnativeOperator installs the Knative operator (namespace knative-operator).
func (in *Installer) KnativeOperator(ctx context.Context) error {
	r, err := in.knativeOperatorRelease()
	if err != nil {
		return err
	}
	_, err = in.Helm.Upgrade(ctx, r)
	return err
}

// KnativeNamespace is where Knative Serving runs.
const KnativeNamespace = "knative-serving"

// KnativeServing applies the KnativeServing resource (with net-istio) at the
// pinned version, with the run's --image knative, and waits for it to be
// Ready.
func (in *Installer) KnativeServing(ctx context.Context, objs []*unstructured.Unstructured) error {
	if err := in.knativeServingObjects(objs); err != nil {
		return err
	}
	if err := in.Apply.Apply(ctx, objs...); err != nil {
		return err
	}
	if !in.Wait {
		return nil
	}
	for _, o := range objs {
		if o.GetKind() == "KnativeServing" {
			ri, err := in.Apply.Resource(o)
			if err != nil {
				return err
			}
			if err := ready.Condition(ctx, ri, o.GetName(), "Ready", in.Opts.Timeouts.InstallTimeout); err != nil {
				return err
			}
		}
	}
	return ready.Deployments(ctx, in.Kube, KnativeNamespace, "", in.Opts.Timeouts.ReadyTimeout)
}

// kserveReleases lists KServe's charts for its version: kserve-crd and
// kserve up to v0.16; kserve-crd, kserve-resources and
// kserve-runtime-configs from v0.17. Each release's values are its file
// (the Knative deployment mode, "Serverless" in kserve.values.yaml before
// v0.17; the runtimes turned on in kserve-runtime-configs.values.yaml); a
// missing file is an error.
func (in *Installer) kserveReleases() ([]Release, error) {
	src, v := in.Opts.ChartSource("kserve"), in.Versions.KServe
	ref := func(name, path string) ChartRef { return ChartRef{Source: src, Name: name, Path: path, Version: v} }
	charts := []ChartRef{ref("kserve-crd", ""), ref("kserve-resources", ""), ref("kserve-runtime-configs", "")}
	if versions.MustParse(v).Less(versions.MustParse("v0.17.0")) {
		charts = []ChartRef{ref("kserve-crd", ""), ref("kserve", "kserve-resources")}
	}
	var rels []Release
	for _, c := range charts {
		r, err := in.valuedRelease(c.Name, KServeNamespace, c, "")
		if err != nil {
			return nil, err
		}
		if err := in.overrideKServeImages(c.Name, r.Values); err != nil {
			return nil, fmt.Errorf("%s values: %w", c.Name, err)
		}
		rels = append(rels, r)
	}
	return rels, nil
}

// KServeRBACProxyTag is the tag of the kube-rbac-proxy image KServe's
// controller pod runs beside the manager (kserve-resources values.yaml
// kserve.controller.rbacProxyImage, quay.io/brancz/kube-rbac-proxy:v0.18.0
// at v0.20.0): a mirror keeps the upstream tag, as for Istio's images.
const KServeRBACProxyTag = "v0.18.0"

// kserveImageValues are the image keys --image kserve=HUB[:TAG] sets, per
// chart (the v0.14-v0.16 chart "kserve" holds both sets): the manager, its
// kube-rbac-proxy, the storage initializer (the InferenceService
// config's storageInitializer and the ClusterStorageContainer) and the
// sklearn ClusterServingRuntime, the one the suite's InferenceServices
// select. Each is HUB/<the upstream image's name>.
var kserveImageValues = map[string][]string{
	"kserve-resources":       {"controller", "storage"},
	"kserve-runtime-configs": {"servingruntime.sklearnserver"},
	"kserve":                 {"controller", "storage", "servingruntime.sklearnserver"},
}

// kserveImageNames are the upstream images' names under kserve/ for the
// blocks of kserveImageValues.
var kserveImageNames = map[string]string{
	"controller": "kserve-controller", "storage": "storage-initializer", "servingruntime.sklearnserver": "sklearnserver",
}

// overrideKServeImages sets a KServe chart's images from --image
// kserve=HUB[:TAG] (TAG default: the chart's, the KServe version). The
// manager's pull policy becomes IfNotPresent: the chart's Always makes
// every start of the controller ask the registry again for a pinned tag,
// and fails on a node whose images were loaded rather than pulled (kind
// load, an air-gapped node).
func (in *Installer) overrideKServeImages(chart string, values map[string]any) error {
	hub, tag, ok := in.Opts.Image("kserve")
	if !ok {
		return nil
	}
	for _, block := range kserveImageValues[chart] {
		path := append([]string{"kserve"}, strings.Split(block, ".")...)
		if err := unstructured.SetNestedField(values, hub+"/"+kserveImageNames[block], append(path, "image")...); err != nil {
			return fmt.Errorf("%s.image: %w", strings.Join(path, "."), err)
		}
		if tag == "" {
			continue
		}
		if err := unstructured.SetNestedField(values, tag, append(path, "tag")...); err != nil {
			return fmt.Errorf("%s.tag: %w", strings.Join(path, "."), err)
		}
	}
	if !slices.Contains(kserveImageValues[chart], "controller") {
		return nil
	}
	for field, v := range map[string]string{"imagePullPolicy": "IfNotPresent", "rbacProxyImage": hub + "/kube-rbac-proxy:" + KServeRBACProxyTag} {
		if err := unstructured.SetNestedField(values, v, "kserve", "controller", field); err != nil {
			return fmt.Errorf("kserve.controller.%s: %w", field, err)
		}
	}
	return nil
}

// KServe installs KServe in Knative mode.
func (in *Installer) KServe(ctx context.Context) error {
	rels, err := in.kserveReleases()
	if err != nil {
		return err
	}
	for _, r := range rels {
		if _, err := in.Helm.Upgrade(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// Where KServe's charts install it and keep its ingress configuration:
// the kserve-resources values set KServeDisableVirtualHost in it (checked
// against the chart here, on a cluster by suites/kservemesh).
const (
	KServeNamespace          = "kserve"
	KServeConfigMap          = "inferenceservice-config"
	KServeIngressKey         = "ingress"
	KServeDisableVirtualHost = "disableIstioVirtualHost"
)
