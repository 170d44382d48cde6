package options

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/dataplane"
)

// parse runs the same path as a test binary: the file, the flags over it,
// one parse, then Finish.
func parse(t *testing.T, args ...string) (Options, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("kubeconfig", "", "as e2e-framework registers it")
	o, err := New(fs, args)
	if err != nil {
		return Options{}, err
	}
	if err := fs.Parse(args); err != nil {
		return *o, err
	}
	return *o, o.Finish(fs)
}

func writeConfig(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

func TestDefaultsAreValidAndDocumented(t *testing.T) {
	o, err := parse(t)
	require.NoError(t, err)
	assert.Equal(t, dataplane.Mode(""), o.Mode, "unset: the harness picks the suite's documented mode")
	assert.Empty(t, o.Cluster.Name, "unset: the harness names it after the suite and mode")
	assert.Equal(t, ProfileLight, o.ChatQnAProfile)
	assert.Equal(t, KServeDocumented, o.KServeProfile, "the hardened profile is opt-in")
	assert.Equal(t, SetupCorrected, o.Setup, "the as-written run is opt-in")
	assert.True(t, Corrected(o))
	assert.False(t, AsWritten(o))
	o.Setup = SetupAsWritten
	assert.True(t, AsWritten(o))
	assert.False(t, Corrected(o))
	assert.Equal(t, TimeoutConfig{
		RequestTimeout: 5 * time.Second, MaxTimeToConsistency: 2 * time.Minute, RequiredConsecutiveSuccesses: 3,
		RoundInterval: time.Second, InstallTimeout: 10 * time.Minute, ReadyTimeout: 5 * time.Minute, ClusterTimeout: 5 * time.Minute, InferenceServiceReadyTimeout: 15 * time.Minute, ClusterLockTimeout: 10 * time.Minute, ColdStartTimeout: 5 * time.Minute,
		HostLockTimeout: 3 * time.Hour,
	}, o.Timeouts)
	assert.Equal(t, "oci://ghcr.io/kserve/charts", o.ChartSource("kserve"))
}

func TestFlags(t *testing.T) {
	o, err := parse(t, "--mode=ambient", "--istio-version=1.26.3", "--chart-source", "istio=/charts/istio",
		"--request-timeout=2s", "--required-consecutive-successes=5", "--chatqna-profile=full", "--kserve-profile=hardened")
	require.NoError(t, err)
	assert.Equal(t, dataplane.Ambient, o.Mode)
	assert.Equal(t, "1.26.3", o.Versions.Istio)
	assert.Equal(t, "/charts/istio", o.ChartSource("istio"))
	assert.Equal(t, 2*time.Second, o.Timeouts.RequestTimeout)
	assert.Equal(t, 5, o.Timeouts.RequiredConsecutiveSuccesses)
	assert.Equal(t, ProfileFull, o.ChatQnAProfile)
	assert.Equal(t, KServeHardened, o.KServeProfile)
}

func TestConfigFileAndExplicitFlagsWin(t *testing.T) {
	cfg := writeConfig(t, `
mode: ambient
outputDir: /tmp/reports
versions:
  istio: 1.25.2
chartSources:
  chatqna: /charts/chatqna
timeouts:
  requestTimeout: 3s
  maxTimeToConsistency: 45s
`)
	o, err := parse(t, "--config", cfg, "--mode=sidecar", "--chart-source=istio=/mirror/istio")
	require.NoError(t, err)
	assert.Equal(t, dataplane.Sidecar, o.Mode, "an explicit flag wins over the file")
	assert.Equal(t, "/tmp/reports", o.OutputDir, "the file wins over defaults")
	assert.Equal(t, "1.25.2", o.Versions.Istio)
	assert.Equal(t, 3*time.Second, o.Timeouts.RequestTimeout)
	assert.Equal(t, 45*time.Second, o.Timeouts.MaxTimeToConsistency)
	assert.Equal(t, 3, o.Timeouts.RequiredConsecutiveSuccesses, "defaults stay where neither sets a value")
	assert.Equal(t, "/charts/chatqna", o.ChartSource("chatqna"))
	assert.Equal(t, "/mirror/istio", o.ChartSource("istio"), "flag and file chart sources merge")
	assert.Equal(t, cfg, o.ConfigFile)
}

func TestBadInputNamesTheProblem(t *testing.T) {
	cases := []struct {
		name string
		args []string
		file string
		want []string
	}{
		{"unknown mode", []string{"--mode=sidecarless"}, "", []string{`"sidecarless" is not a mode`, "sidecar, ambient"}},
		{"unknown flag", []string{"--moed=ambient"}, "", []string{"flag provided but not defined: -moed"}},
		{"unknown profile", []string{"--chatqna-profile=tiny"}, "", []string{`"tiny" is not a profile`, "light, full"}},
		{"unknown kserve profile", []string{"--kserve-profile=strict"}, "", []string{`"strict" is not a KServe profile`, "documented, hardened"}},
		{"unknown setup", []string{"--setup=literal"}, "", []string{`"literal" is not a setup`, "corrected, as-written"}},
		{"bad setup in file", nil, "setup: verbatim\n", []string{`--setup "verbatim" is not a setup`, "corrected, as-written"}},
		{"bad kserve profile in file", nil, "kserveProfile: closed\n", []string{`--kserve-profile "closed" is not a KServe profile`, "documented, hardened"}},
		{"model claim without the full profile", []string{"--chatqna-model-pvc=models"}, "", []string{"--chatqna-model-pvc applies to --chatqna-profile=full only"}},
		{"unknown chart component", []string{"--chart-source=envoy=/x"}, "", []string{`unknown component "envoy"`, "cert-manager"}},
		{"old istio", []string{"--istio-version=1.20.3"}, "", []string{"--istio-version", "1.22.0 or newer"}},
		{"ambient on old istio", []string{"--mode=ambient", "--istio-version=1.23.0"}, "", []string{"ambient", "1.24.0 or newer", "--mode=sidecar"}},
		{"not a version", []string{"--kserve-version=latest"}, "", []string{"--kserve-version", `"latest" is not a version`}},
		{"zero successes", []string{"--required-consecutive-successes=0"}, "", []string{"--required-consecutive-successes must be at least 1"}},
		{"timeouts contradict", []string{"--request-timeout=3m"}, "", []string{"--request-timeout (3m0s) must be shorter than --max-time-to-consistency (2m0s)"}},
		{"kubeconfig and kind config", []string{"--kubeconfig=/k", "--kind-config=x.yaml"}, "", []string{"--kind-config applies only", "--kubeconfig"}},
		{"unknown install policy", []string{"--install=some"}, "", []string{`"some" is not an install policy`, "all, missing, none"}},
		{"unknown install component", []string{"--install=envoy=none"}, "", []string{`unknown component "envoy"`}},
		{"bad install in file", nil, "install:\n  istio: maybe\n", []string{"--install istio=maybe", "all, missing, none"}},
		{"missing image archive", []string{"--image-archive=/nonexistent/img.tar"}, "", []string{"--image-archive /nonexistent/img.tar"}},
		{"kubeconfig and image archive", []string{"--kubeconfig=/k", "--image-archive=/etc/hostname"}, "", []string{"--image-archive loads images into a kind cluster"}},
		{"kubeconfig and keep", []string{"--kubeconfig=/k", "--keep-cluster"}, "", []string{"--keep-cluster applies only"}},
		{"unknown key in file", nil, "mode: ambient\nmdoe: sidecar\n", []string{"field mdoe not found", "--config"}},
		{"bad mode in file", nil, "mode: waypoint\n", []string{`--mode "waypoint" is not a mode`}},
		{"claimed and exempt", []string{"--supported-features=host-tls-ingress", "--exempt-features=host-tls-ingress"}, "", []string{`"host-tls-ingress" is both claimed`}},
		{"ingress address without port", []string{"--ingress-address=gateway.example"}, "", []string{`--ingress-address "gateway.example" is not HOST:PORT`}},
		{"bad duration in file", nil, "timeouts:\n  requestTimeout: soon\n", []string{"--config", "soon"}},
		{"unknown image component", []string{"--image=envoy=mirror.example/envoy"}, "", []string{`unknown component "envoy"`, "istio"}},
		{"image with a digest", []string{"--image=istio=mirror.example/istio@sha256:abc"}, "", []string{"has a digest", "hub and a tag only"}},
		{"image with an empty tag", []string{"--image=istio=mirror.example/istio:"}, "", []string{"empty tag"}},
		{"image without a hub", []string{"--image=istio=:1.27.1"}, "", []string{"is not HUB[:TAG]"}},
		{"bad image in file", nil, "images:\n  istio: mirror.example/istio/\n", []string{"--image istio=mirror.example/istio/", "is not HUB[:TAG]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if c.file != "" {
				args = append(args, "--config", writeConfig(t, c.file))
			}
			_, err := parse(t, args...)
			require.Error(t, err)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// An image override is HUB[:TAG], split as image references are: a
// registry port belongs to the hub; no tag keeps the chart's.
func TestImageOverrides(t *testing.T) {
	o, err := parse(t)
	require.NoError(t, err)
	_, _, ok := o.Image("istio")
	assert.False(t, ok, "unset: the charts' own images")
	for ref, want := range map[string][2]string{
		"mesh-conformance.local/istio:lab":   {"mesh-conformance.local/istio", "lab"},
		"localhost:5000/istio":               {"localhost:5000/istio", ""},
		"localhost:5000/mirror/istio:1.27.1": {"localhost:5000/mirror/istio", "1.27.1"},
		"docker.io/istio":                    {"docker.io/istio", ""},
	} {
		o, err := parse(t, "--image=istio="+ref)
		require.NoError(t, err, ref)
		hub, tag, ok := o.Image("istio")
		assert.True(t, ok)
		assert.Equal(t, want, [2]string{hub, tag}, ref)
	}
	cfg := writeConfig(t, "images:\n  istio: mirror.example/istio:from-file\n")
	o, err = parse(t, "--config", cfg)
	require.NoError(t, err)
	hub, tag, _ := o.Image("istio")
	assert.Equal(t, [2]string{"mirror.example/istio", "from-file"}, [2]string{hub, tag})
	o, err = parse(t, "--config", cfg, "--image=istio=other.example/istio:flag")
	require.NoError(t, err)
	hub, tag, _ = o.Image("istio")
	assert.Equal(t, [2]string{"other.example/istio", "flag"}, [2]string{hub, tag}, "the flag wins over the file")
}

func TestFeatureListsTakeCommasRepeatsAndTheFile(t *testing.T) {
	o, err := parse(t, "--supported-features=a, b", "--supported-features=c", "--exempt-features=x,y")
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c"}, o.SupportedFeatures)
	assert.Equal(t, []string{"x", "y"}, o.ExemptFeatures)
	cfg := writeConfig(t, "supportedFeatures: [from-file]\nallFeatures: true\ningressAddress: 127.0.0.1:8443\n")
	o, err = parse(t, "--config", cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"from-file"}, o.SupportedFeatures)
	assert.True(t, o.AllFeatures)
	assert.Equal(t, "127.0.0.1:8443", o.IngressAddress)
	o, err = parse(t, "--config", cfg, "--supported-features=from-flag")
	require.NoError(t, err)
	assert.Equal(t, []string{"from-flag"}, o.SupportedFeatures, "an explicit flag wins over the file")
}

func TestInstallPolicy(t *testing.T) {
	o, err := parse(t)
	require.NoError(t, err)
	assert.Equal(t, "all", o.InstallPolicy("istio"), "a fresh kind cluster gets everything")
	o, err = parse(t, "--kubeconfig=/k")
	require.NoError(t, err)
	assert.Equal(t, "missing", o.InstallPolicy("istio"), "an existing cluster keeps what it has")
	o, err = parse(t, "--kubeconfig=/k", "--install=none", "--install=cert-manager=all")
	require.NoError(t, err)
	assert.Equal(t, "none", o.InstallPolicy("istio"))
	assert.Equal(t, "all", o.InstallPolicy("cert-manager"))
}

func TestMissingConfigFile(t *testing.T) {
	_, err := parse(t, "--config", "/nonexistent/mc.yaml")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/nonexistent/mc.yaml")
}

func TestSecretsComeFromTheEnvironmentOnly(t *testing.T) {
	t.Setenv(HuggingFaceTokenEnv, "hf_secret_value")
	assert.Contains(t, Secrets(), "hf_secret_value")
	_, err := parse(t, "--hf-token=x")
	require.Error(t, err, "there is no flag for the token")
}

// One parse: the file's values are the flags' defaults, so a list flag on
// the command line replaces the file's list instead of adding to it, and
// --config is found however the flag package would read it.
func TestOneParseFlagsOverTheFile(t *testing.T) {
	cfg := writeConfig(t, "exemptFeatures: [from-file]\nsupportedFeatures: [a, b]\n")
	o, err := parse(t, "--mode=sidecar", "--config="+cfg, "--exempt-features=cleanup")
	require.NoError(t, err)
	assert.Equal(t, []string{"cleanup"}, o.ExemptFeatures, "the command line's list replaces the file's")
	assert.Equal(t, []string{"a", "b"}, o.SupportedFeatures, "the file's list stays where no flag is given")
	o, err = parse(t, "-config", cfg, "--supported-features=c", "--supported-features=d")
	require.NoError(t, err)
	assert.Equal(t, []string{"c", "d"}, o.SupportedFeatures, "repeats add to the command line's list")
	assert.Equal(t, cfg, o.ConfigFile)

	for args, want := range map[string]string{
		"--config=a.yaml": "a.yaml", "-config b.yaml": "b.yaml", "--config a.yaml --config c.yaml": "c.yaml",
		"--mode sidecar": "", "-- --config x.yaml": "", "--configx=y": "",
	} {
		assert.Equal(t, want, configArg(strings.Fields(args)), args)
	}
}
