// Package provenance gathers what a report's verdicts rest on: the suite's
// own source (commit, and whether the tree or its fixtures differed from
// it), digests of what it applied, what the cluster ran (image digests from
// pod status, node versions, the mesh's revision and trust root), and the
// command line to reproduce the run, secrets redacted.
package provenance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// Module is the suite's Go module.
const Module = "github.com/secure-inference/mesh-conformance"

// SourceOf reads the suite's source at repoRoot with git (bounded): the
// commit, whether the working tree differs from it, and whether fixtures/
// does. Without git or a checkout the commit is left empty.
func SourceOf(ctx context.Context, repoRoot string) reportapi.SuiteSource {
	src := reportapi.SuiteSource{Module: Module}
	git := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "git", append([]string{"-C", repoRoot}, args...)...).Output()
		return strings.TrimRight(string(out), "\n"), err
	}
	commit, err := git("rev-parse", "HEAD")
	if err != nil {
		return src
	}
	src.Commit = strings.TrimSpace(commit)
	status, err := git("status", "--porcelain", "--untracked-files=normal")
	if err != nil {
		return src
	}
	for _, line := range strings.Split(status, "\n") {
		if len(line) < 4 {
			continue
		}
		path := strings.TrimSpace(line[3:])
		src.Dirty = true
		src.Changed = append(src.Changed, path)
		if strings.HasPrefix(path, "fixtures/") {
			src.FixturesEdited = true
		}
	}
	return src
}

// Digests is the sha256 of every file of fsys, by path.
func Digests(fsys fs.FS) (map[string]string, error) {
	out := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out[p] = hex.EncodeToString(sum[:])
		return nil
	})
	return out, err
}

// ChartDigest is the sha256 of a chart as loaded: of its archive, or of a
// chart directory's files (paths and contents, in order).
func ChartDigest(path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if !info.IsDir() {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		if _, err := io.Copy(h, f); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(path, f)
		fmt.Fprintf(h, "%s\x00%d\x00", rel, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ClusterOf reads what the cluster ran: kube-system's UID, node versions,
// the Istio revision and root certificate, and the image digests of every
// container in namespaces.
func ClusterOf(ctx context.Context, kube kubernetes.Interface, namespaces []string) (*reportapi.ClusterProvenance, error) {
	c := &reportapi.ClusterProvenance{}
	ks, err := kube.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading kube-system: %w", err)
	}
	c.KubeSystemUID = string(ks.UID)
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	for _, n := range nodes.Items {
		i := n.Status.NodeInfo
		c.Nodes = append(c.Nodes, reportapi.Node{Name: n.Name, Kubelet: i.KubeletVersion, ContainerRuntime: i.ContainerRuntimeVersion, OSImage: i.OSImage})
	}
	if cm, err := kube.CoreV1().ConfigMaps("istio-system").Get(ctx, "istio-ca-root-cert", metav1.GetOptions{}); err == nil {
		sum := sha256.Sum256([]byte(cm.Data["root-cert.pem"]))
		c.RootCertSHA256 = hex.EncodeToString(sum[:])
	}
	if d, err := kube.AppsV1().Deployments("istio-system").Get(ctx, "istiod", metav1.GetOptions{}); err == nil {
		c.IstioRevision = d.Spec.Template.Labels["istio.io/rev"]
	}
	seen := map[string]bool{}
	for _, ns := range namespaces {
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			continue // a namespace the run never made
		}
		for _, p := range pods.Items {
			statuses := append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
			for _, s := range statuses {
				key := ns + "\x00" + s.Image + "\x00" + s.ImageID
				if s.ImageID == "" || seen[key] {
					continue
				}
				seen[key] = true
				c.Images = append(c.Images, reportapi.Image{Namespace: ns, Image: s.Image, ImageID: s.ImageID})
			}
		}
	}
	sort.Slice(c.Images, func(i, j int) bool {
		if c.Images[i].Namespace != c.Images[j].Namespace {
			return c.Images[i].Namespace < c.Images[j].Namespace
		}
		return c.Images[i].Image < c.Images[j].Image
	})
	return c, nil
}

// Reproduce is the run's command line with the values of secret-looking
// flags (token, password, secret, key) redacted; the report scrubs known
// secret values besides.
func Reproduce(args []string) []string {
	out := make([]string, len(args))
	hide := false
	for i, a := range args {
		if hide {
			out[i], hide = "<redacted>", false
			continue
		}
		out[i] = a
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		lower := strings.ToLower(name)
		if strings.HasPrefix(a, "-") && (strings.Contains(lower, "token") || strings.Contains(lower, "password") || strings.Contains(lower, "secret") || strings.HasSuffix(lower, "key")) {
			if hasValue {
				out[i] = a[:strings.Index(a, "=")+1] + "<redacted>"
			} else {
				hide = true
			}
		}
	}
	return out
}
