//go:build apiserver

package apiserver_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/release"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/secure-inference/mesh-conformance/tests/install"
)

// An interrupted run leaves a Helm release pending, and every later run
// would stop on "another operation is in progress". The installer recovers
// the suite's own pending releases (rollback, or uninstall of a release
// never deployed) and refuses to touch anyone else's. The releases here are
// real, on a real API server; the interruption is written into Helm's own
// release storage as an interrupted install or upgrade leaves it.
func TestPendingReleasesAreRecovered(t *testing.T) {
	ctx := context.Background()
	_, kubeconfig := freshServer(t)
	var mu sync.Mutex
	var logs []string
	h := &install.Helm{Kubeconfig: kubeconfig, Logf: func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logs = append(logs, fmt.Sprintf(format, args...))
	}}
	const ns = "mc-helm"
	chartDir, err := filepath.Abs(filepath.Join("..", "install", "testdata"))
	require.NoError(t, err)
	rel := func(name string) install.Release {
		return install.Release{Name: name, Namespace: ns, Chart: install.ChartRef{Source: chartDir, Name: "chatqna-like"}, Values: map[string]any{}}
	}
	flags := genericclioptions.NewConfigFlags(false)
	namespace := ns
	flags.KubeConfig, flags.Namespace = &kubeconfig, &namespace
	cfg := new(action.Configuration)
	require.NoError(t, cfg.Init(flags, ns, "secret", func(string, ...any) {}))
	said := func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(logs, "\n")
	}

	t.Run("an upgrade interrupted after its first revision is rolled back, then upgraded", func(t *testing.T) {
		_, err := h.Upgrade(ctx, rel("upgraded"))
		require.NoError(t, err)
		last, err := cfg.Releases.Last("upgraded")
		require.NoError(t, err)
		pending := *last
		pending.Version, pending.Info = 2, &release.Info{Status: release.StatusPendingUpgrade}
		require.NoError(t, cfg.Releases.Create(&pending))

		got, err := h.Upgrade(ctx, rel("upgraded"))
		require.NoError(t, err, "no 'another operation is in progress'")
		assert.Equal(t, release.StatusDeployed, got.Info.Status)
		assert.Contains(t, said(), "upgraded in mc-helm was left pending-upgrade by an interrupted run: rolling back")
	})

	t.Run("an install interrupted before it deployed is uninstalled, then installed", func(t *testing.T) {
		_, err := h.Upgrade(ctx, rel("installed"))
		require.NoError(t, err)
		last, err := cfg.Releases.Last("installed")
		require.NoError(t, err)
		last.Info.Status = release.StatusPendingInstall
		require.NoError(t, cfg.Releases.Update(last))

		got, err := h.Upgrade(ctx, rel("installed"))
		require.NoError(t, err)
		assert.Equal(t, release.StatusDeployed, got.Info.Status)
		assert.Equal(t, 1, got.Version, "installed afresh")
		assert.Contains(t, said(), "installed in mc-helm was left pending-install by an interrupted run and never deployed: uninstalling it")
	})

	t.Run("someone else's pending release is reported, not touched", func(t *testing.T) {
		ch, err := loader.Load(filepath.Join(chartDir, "chatqna-like"))
		require.NoError(t, err)
		in := action.NewInstall(cfg)
		in.ReleaseName, in.Namespace = "theirs", ns
		_, err = in.RunWithContext(ctx, ch, map[string]any{})
		require.NoError(t, err)
		last, err := cfg.Releases.Last("theirs")
		require.NoError(t, err)
		last.Info.Status = release.StatusPendingInstall
		require.NoError(t, cfg.Releases.Update(last))

		_, err = h.Upgrade(ctx, rel("theirs"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "helm release theirs in mc-helm is pending-install")
		assert.Contains(t, err.Error(), "this suite did not install it")
		after, err := cfg.Releases.Last("theirs")
		require.NoError(t, err)
		assert.Equal(t, release.StatusPendingInstall, after.Info.Status, "left as it was")
	})
}
