// Package install puts the shared components of the documented setups on
// a cluster: Istio (sidecar or ambient), cert-manager, the Gateway API
// CRDs, Knative Serving with net-istio and KServe, and enrolls namespaces
// in the mesh. Each install is idempotent (install or upgrade), pinned,
// overridable, and waits on real readiness unless told not to (the API
// server tier has no kubelet). What only one suite needs lives in that
// suite (suites/kservemesh/kserve.go, suites/opeaistio/chatqna.go).
package install

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/secure-inference/mesh-conformance/tests/apply"
	"github.com/secure-inference/mesh-conformance/tests/provenance"
)

// Release is one Helm release to install or upgrade.
type Release struct {
	Name, Namespace string
	Chart           ChartRef
	Values          map[string]any
	// Wait makes Helm wait for the release's workloads to be ready.
	Wait    bool
	Timeout time.Duration
}

// ChartRef says where a chart comes from.
type ChartRef struct {
	// Source is a repository URL, an oci:// registry path, a URL of a .tgz,
	// or a local directory that holds the chart under Path.
	Source string
	// Name is the chart's name in a repository or registry.
	Name string
	// Path is the chart's folder under a directory Source, when it differs
	// from Name (Istio's source tree keeps istiod in
	// istio-control/istio-discovery).
	Path    string
	Version string
}

func (c ChartRef) String() string {
	if c.Version != "" {
		return fmt.Sprintf("%s %s from %s", c.Name, c.Version, c.Source)
	}
	return fmt.Sprintf("%s from %s", c.Name, c.Source)
}

// Helm installs charts with the Helm SDK (no helm CLI).
type Helm struct {
	Kubeconfig, Context string
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
	// Installed lists the releases installed or upgraded, for provenance.
	Installed []Installed
}

// Installed is one release as installed: the chart's name, version, where
// it came from and the sha256 of what was loaded.
type Installed struct {
	Release, Namespace, Chart, Version, Source, Digest string
}

func (h *Helm) logf(format string, args ...any) {
	if h.Logf != nil {
		h.Logf(format, args...)
	}
}

func (h *Helm) config(namespace string) (*action.Configuration, *cli.EnvSettings, error) {
	settings := cli.New()
	settings.KubeConfig, settings.KubeContext = h.Kubeconfig, h.Context
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Context, flags.Namespace = &h.Kubeconfig, &h.Context, &namespace
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, namespace, "secret", func(string, ...any) {}); err != nil {
		return nil, nil, fmt.Errorf("helm: %w", err)
	}
	rc, err := registry.NewClient(registry.ClientOptWriter(discard{}))
	if err != nil {
		return nil, nil, fmt.Errorf("helm registry client: %w", err)
	}
	cfg.RegistryClient = rc
	return cfg, settings, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func (h *Helm) load(cfg *action.Configuration, settings *cli.EnvSettings, ref ChartRef) (*chart.Chart, string, error) {
	var path string
	if isRemote(ref.Source) {
		// action.Install carries the ChartPathOptions that know every kind
		// of remote source, with the registry client for oci://.
		locate := action.NewInstall(cfg).ChartPathOptions
		name := ref.Name
		switch {
		case strings.HasPrefix(ref.Source, "oci://"):
			name = strings.TrimSuffix(ref.Source, "/") + "/" + ref.Name
			locate.Version = ref.Version
		case strings.HasSuffix(ref.Source, ".tgz"):
			name = ref.Source
		default:
			locate.RepoURL, locate.Version = ref.Source, ref.Version
		}
		p, err := locate.LocateChart(name, settings)
		if err != nil {
			return nil, "", fmt.Errorf("chart %s: %w", ref, err)
		}
		path = p
	} else {
		sub := ref.Path
		if sub == "" {
			sub = ref.Name
		}
		path = filepath.Join(ref.Source, sub)
		if _, err := os.Stat(path); err != nil {
			return nil, "", fmt.Errorf("chart %s: no chart directory at %s: %w", ref, path, err)
		}
	}
	ch, err := loader.Load(path)
	if err != nil {
		return nil, "", fmt.Errorf("loading chart %s: %w", ref, err)
	}
	return ch, path, nil
}

// Upgrade installs the release, or upgrades it when it exists: running a
// suite twice converges on the same state.
func (h *Helm) Upgrade(ctx context.Context, r Release) (*release.Release, error) {
	cfg, settings, err := h.config(r.Namespace)
	if err != nil {
		return nil, err
	}
	ch, path, err := h.load(cfg, settings, r.Chart)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := h.recoverPending(cfg, r); err != nil {
		return nil, err
	}
	// A webhook that is registered but not serving yet (the release before
	// this one just installed it, or its controller restarted) refuses the
	// whole release; the same release succeeds once it serves. Retry that,
	// bounded; never a webhook's refusal or any other error.
	var rel *release.Release
	deadline, pause := time.Now().Add(webhookWait), 2*time.Second
	for {
		rel, err = h.installOrUpgrade(ctx, cfg, ch, r)
		if err == nil || !apply.Transient(err) || time.Now().Add(pause).After(deadline) {
			break
		}
		h.logf("helm: %s in %s: a webhook is not serving yet, retrying in %s: %v", r.Name, r.Namespace, pause, firstLine(err))
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(pause):
		}
	}
	if err != nil {
		return nil, err
	}
	digest, _ := provenance.ChartDigest(path)
	h.Installed = append(h.Installed, Installed{Release: r.Name, Namespace: r.Namespace, Chart: ch.Metadata.Name, Version: ch.Metadata.Version,
		Source: r.Chart.Source, Digest: digest})
	h.logf("helm: %s %s (%s) in %s: %s, revision %d, %s", r.Name, ch.Metadata.Version, r.Chart.Source, r.Namespace,
		rel.Info.Status, rel.Version, time.Since(start).Round(time.Millisecond))
	return rel, nil
}

// OwnerLabel marks the releases this suite installed (Helm keeps it on the
// release's storage), so that only those are ever recovered.
const OwnerLabel = "mesh-conformance.secure-inference.io/installed-by"

// recoverPending unblocks a release an interrupted run left pending
// ("another operation (install/upgrade/rollback) is in progress" on every
// later run): a never-deployed one is uninstalled, one with a deployed
// revision is rolled back to it. Only releases carrying OwnerLabel are
// touched; another's pending release is reported, never changed.
func (h *Helm) recoverPending(cfg *action.Configuration, r Release) error {
	last, err := cfg.Releases.Last(r.Name)
	if err != nil || !last.Info.Status.IsPending() {
		return nil // absent, or settled
	}
	if last.Labels[OwnerLabel] != "mesh-conformance" {
		return fmt.Errorf("helm release %s in %s is %s (another operation is in progress, or one was interrupted) and this suite did not install it: "+
			"finish or undo that operation (helm rollback %s, or helm uninstall %s -n %s) and run again", r.Name, r.Namespace, last.Info.Status, r.Name, r.Name, r.Namespace)
	}
	deployed, derr := cfg.Releases.Deployed(r.Name)
	if derr != nil && !errors.Is(derr, driver.ErrNoDeployedReleases) {
		return fmt.Errorf("helm: reading the deployed revision of %s in %s: %w", r.Name, r.Namespace, derr)
	}
	if derr != nil {
		h.logf("helm: %s in %s was left %s by an interrupted run and never deployed: uninstalling it before installing again", r.Name, r.Namespace, last.Info.Status)
		un := action.NewUninstall(cfg)
		un.Timeout = r.Timeout
		if _, err := un.Run(r.Name); err != nil {
			return fmt.Errorf("helm: uninstalling the pending release %s in %s: %w", r.Name, r.Namespace, err)
		}
		return nil
	}
	h.logf("helm: %s in %s was left %s by an interrupted run: rolling back to its last deployed revision %d", r.Name, r.Namespace, last.Info.Status, deployed.Version)
	rb := action.NewRollback(cfg)
	// Version 0 would mean current-1, which may be a failed revision.
	rb.Timeout, rb.Wait, rb.Version = r.Timeout, r.Wait, deployed.Version
	if err := rb.Run(r.Name); err != nil {
		return fmt.Errorf("helm: rolling back the pending release %s in %s: %w", r.Name, r.Namespace, err)
	}
	return nil
}

// webhookWait bounds the retries of a release refused by a webhook that
// is not serving yet.
const webhookWait = apply.DefaultWebhookWait

// installOrUpgrade installs the release, or upgrades it when a revision
// exists (also one that failed: Helm upgrades from the last failed
// revision when none was deployed).
func (h *Helm) installOrUpgrade(ctx context.Context, cfg *action.Configuration, ch *chart.Chart, r Release) (*release.Release, error) {
	hist := action.NewHistory(cfg)
	hist.Max = 1
	if _, err := hist.Run(r.Name); err == driver.ErrReleaseNotFound {
		in := action.NewInstall(cfg)
		in.ReleaseName, in.Namespace, in.CreateNamespace = r.Name, r.Namespace, true
		in.Wait, in.Timeout = r.Wait, r.Timeout
		in.Labels = map[string]string{OwnerLabel: "mesh-conformance"}
		rel, err := in.RunWithContext(ctx, ch, r.Values)
		if err != nil {
			return nil, fmt.Errorf("helm install %s (%s) in %s: %w", r.Name, r.Chart, r.Namespace, err)
		}
		return rel, nil
	} else if err != nil {
		return nil, fmt.Errorf("helm history %s in %s: %w", r.Name, r.Namespace, err)
	}
	up := action.NewUpgrade(cfg)
	up.Namespace, up.Wait, up.Timeout = r.Namespace, r.Wait, r.Timeout
	// Helm merges labels into the release: mark only what this suite
	// installed, never someone else's release it upgrades.
	if last, err := cfg.Releases.Last(r.Name); err == nil && last.Labels[OwnerLabel] != "" {
		up.Labels = map[string]string{OwnerLabel: "mesh-conformance"}
	}
	rel, err := up.RunWithContext(ctx, r.Name, ch, r.Values)
	if err != nil {
		return nil, fmt.Errorf("helm upgrade %s (%s) in %s: %w", r.Name, r.Chart, r.Namespace, err)
	}
	return rel, nil
}

// firstLine keeps a log line short: Helm joins one error per object.
func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

func isRemote(source string) bool {
	for _, p := range []string{"oci://", "http://", "https://"} {
		if strings.HasPrefix(source, p) {
			return true
		}
	}
	return false
}
