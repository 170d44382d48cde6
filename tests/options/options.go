// Package options holds everything a run can be told: the data-plane mode,
// versions, chart sources, output directory and timeouts. Values come from
// defaults, then an optional YAML config file (--config), then flags; a flag
// set explicitly on the command line always wins over the file.
package options

import (
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/versions"
)

// Profile is how much of ChatQnA is deployed.
type Profile string

const (
	// ProfileLight keeps chatqna-nginx and the Services it proxies to, with
	// the model servers scaled to zero: fits a kind node.
	ProfileLight Profile = "light"
	// ProfileFull is the chart's defaults (TGI needs about 65Gi of memory)
	// and a Hugging Face token.
	ProfileFull Profile = "full"
)

// Profiles lists the accepted ChatQnA profiles.
var Profiles = []Profile{ProfileLight, ProfileFull}

// KServeProfile is which setup the kservemesh suite runs.
type KServeProfile string

const (
	// KServeDocumented is kserve-servicemesh.md's setup, corrected as
	// docs/FACTS.md says: the activator lets other namespaces through.
	KServeDocumented KServeProfile = "documented"
	// KServeHardened adds OpenShift Serverless's activator policies
	// (fixtures/kservemesh/hardened/), which close that path.
	KServeHardened KServeProfile = "hardened"
)

// KServeProfiles lists the accepted KServe profiles.
var KServeProfiles = []KServeProfile{KServeDocumented, KServeHardened}

// Setup is whether a suite applies its document corrected or as written.
type Setup string

const (
	// SetupCorrected is the conformance run: the document's setup with the
	// corrections of docs/FACTS.md (each a named deviation in the report).
	SetupCorrected Setup = "corrected"
	// SetupAsWritten applies the document's steps as it prints them, for
	// findings about the document, reported apart from the conformance
	// verdicts (the suites that have such a run: opeaistio in ambient
	// mode, kservemesh in its documented profile).
	SetupAsWritten Setup = "as-written"
)

// Setups lists the accepted setups.
var Setups = []Setup{SetupCorrected, SetupAsWritten}

// AsWritten tells whether a run applies its document as written; a
// suite's steps and features (Feature.Applies) read it.
func AsWritten(o Options) bool { return o.Setup == SetupAsWritten }

// Corrected tells whether a run is the conformance run.
func Corrected(o Options) bool { return !AsWritten(o) }

// HuggingFaceTokenEnv is read for the full ChatQnA profile. The token is
// only ever taken from the environment, never from flags or the config file,
// and is scrubbed from every report and log the suite writes.
const HuggingFaceTokenEnv = "HUGGINGFACEHUB_API_TOKEN"

// TimeoutConfig bounds every wait of a run. Defaults are in DefaultTimeouts.
type TimeoutConfig struct {
	// RequestTimeout bounds one probe request, connect and transfer
	// (curl --max-time). Default 5s.
	RequestTimeout time.Duration `yaml:"requestTimeout"`
	// MaxTimeToConsistency bounds how long a matrix may take to settle:
	// policy and certificates take seconds to reach every proxy. Default 2m.
	MaxTimeToConsistency time.Duration `yaml:"maxTimeToConsistency"`
	// RequiredConsecutiveSuccesses is how many rounds in a row a cell must
	// match its expectation to pass; a mismatch starts the count anew.
	// Default 3.
	RequiredConsecutiveSuccesses int `yaml:"requiredConsecutiveSuccesses"`
	// RoundInterval is the pause between two probe rounds. Default 1s.
	RoundInterval time.Duration `yaml:"roundInterval"`
	// InstallTimeout bounds one component install, including its readiness
	// wait. Default 10m.
	InstallTimeout time.Duration `yaml:"installTimeout"`
	// ReadyTimeout bounds a wait for a workload or resource to be ready
	// (deployments, InferenceServices, certificates). Default 5m.
	ReadyTimeout time.Duration `yaml:"readyTimeout"`
	// ClusterTimeout bounds creating a kind cluster. Default 5m.
	ClusterTimeout time.Duration `yaml:"clusterTimeout"`
	// InferenceServiceReadyTimeout bounds the wait for an InferenceService
	// to be Ready: its storage initializer downloads the model and two
	// large Python images (the runtime's, the storage initializer's) are
	// pulled on a new node. Default 15m.
	InferenceServiceReadyTimeout time.Duration `yaml:"inferenceServiceReadyTimeout"`
	// ColdStartTimeout bounds one request to a model scaled to zero: the
	// storage initializer's download and the runtime's start. Default 5m.
	ColdStartTimeout time.Duration `yaml:"coldStartTimeout"`
	// MaxTimeToRevoke, when set, fails a control whose restored policy
	// took longer to refuse again. Default 0: measured and reported only.
	MaxTimeToRevoke time.Duration `yaml:"maxTimeToRevoke"`
	// ClusterLockTimeout bounds the wait for another run on the same
	// cluster to finish (the run lease). Default 10m.
	ClusterLockTimeout time.Duration `yaml:"clusterLockTimeout"`
	// HostLockTimeout bounds the wait for another run on this host that
	// creates its own kind cluster (one at a time per host: each needs the
	// whole machine, and two runs naming one cluster would race). The
	// test binary's -timeout bounds it too: the run must still fit after
	// waiting. Default 3h.
	HostLockTimeout time.Duration `yaml:"hostLockTimeout"`
}

// DefaultTimeouts are the documented defaults of TimeoutConfig.
func DefaultTimeouts() TimeoutConfig {
	return TimeoutConfig{
		RequestTimeout:               5 * time.Second,
		MaxTimeToConsistency:         2 * time.Minute,
		RequiredConsecutiveSuccesses: 3,
		RoundInterval:                time.Second,
		InstallTimeout:               10 * time.Minute,
		ReadyTimeout:                 5 * time.Minute,
		ClusterTimeout:               5 * time.Minute,
		InferenceServiceReadyTimeout: 15 * time.Minute,
		ClusterLockTimeout:           10 * time.Minute,
		HostLockTimeout:              3 * time.Hour,
		ColdStartTimeout:             5 * time.Minute,
	}
}

// Cluster says which cluster to run on.
type Cluster struct {
	// Name of the kind cluster to create or reuse. Default
	// mesh-conformance-<suite>[-<mode>]: one per suite and mode, so a kept
	// cluster is never reused by a suite with another kind config.
	Name string `yaml:"name"`
	// KindConfig overrides the suite's kind configuration file.
	KindConfig string `yaml:"kindConfig"`
	// Keep leaves a cluster the run created in place at the end.
	Keep bool `yaml:"keep"`
	// Kubeconfig selects an existing cluster instead of kind (also the
	// --kubeconfig flag of e2e-framework).
	Kubeconfig string `yaml:"kubeconfig"`
	// ImageArchives are image tarballs loaded into the kind nodes before any
	// install: for air-gapped runs, and the offline lab.
	ImageArchives []string `yaml:"imageArchives"`
}

// Implementation identifies the distribution under test.
type Implementation struct {
	Organization string `yaml:"organization"`
	Project      string `yaml:"project"`
	URL          string `yaml:"url"`
	Version      string `yaml:"version"`
	Contact      string `yaml:"contact"`
}

// Options is the whole configuration of a run.
type Options struct {
	// Mode is the data-plane mode; empty means the mode the suite's
	// document describes (the first of the suite's modes).
	Mode dataplane.Mode `yaml:"mode"`
	// ListModes prints the modes the suite supports and exits.
	ListModes bool    `yaml:"-"`
	OutputDir string  `yaml:"outputDir"`
	Cluster   Cluster `yaml:"cluster"`
	// Versions overrides the suite's pinned versions, field by field.
	Versions versions.Set `yaml:"versions"`
	// ChartSources overrides where a component's charts (or release
	// manifests) come from: a repository URL, an oci:// reference or a local
	// directory. Keys: see ChartComponents.
	ChartSources map[string]string `yaml:"chartSources"`
	// Images overrides where a component's container images come from, as
	// HUB[:TAG] per component (keys: see ImageComponents): for air-gapped
	// clusters with a mirror registry, and the offline lab, whose images are
	// built locally. Only the hub and tag change; image names stay the
	// charts' own. Default none: the charts' defaults.
	Images         map[string]string `yaml:"images"`
	ChatQnAProfile Profile           `yaml:"chatqnaProfile"`
	// KServeProfile is the kservemesh suite's setup: documented, or
	// hardened (the activator policies added).
	KServeProfile KServeProfile `yaml:"kserveProfile"`
	// Setup is corrected (the conformance run) or as-written (the
	// document literally, for findings about it).
	Setup Setup `yaml:"setup"`
	// ChatQnAModelPVC names an existing, Bound PersistentVolumeClaim in
	// chatqna that the full profile's model servers share
	// (global.modelUsePVC). Default none: the chart's own default, each pod
	// downloads its model.
	ChatQnAModelPVC string `yaml:"chatqnaModelPVC"`
	// ColdStartRepeats is how many cold sequences cold-start-isolation
	// runs per client, each after the model scaled back to zero.
	ColdStartRepeats int `yaml:"coldStartRepeats"`
	// ControlRepeats is how many times each control removes and restores
	// its resources, each a sample of the time to open and to revoke.
	ControlRepeats int `yaml:"controlRepeats"`
	// Install says, per component, whether to install it: all (install or
	// upgrade in place), missing (only what is not found), none. Key "*" is
	// the default for every component; unset, it is "all" on a kind cluster
	// the run creates and "missing" on an existing cluster.
	Install  map[string]string `yaml:"install"`
	Timeouts TimeoutConfig     `yaml:"timeouts"`
	// Implementation identifies who runs the suite against what, for the
	// report (as Gateway API conformance reports do).
	Implementation Implementation `yaml:"implementation"`
	// SupportedFeatures are the extended features the implementation claims,
	// as in Gateway API conformance: core features are always claimed, an
	// extended feature runs only when claimed, and an unclaimed one is
	// reported as unsupported without touching the core result.
	SupportedFeatures []string `yaml:"supportedFeatures"`
	// AllFeatures claims every extended feature of the suite.
	AllFeatures bool `yaml:"allFeatures"`
	// ExemptFeatures are features the implementation opts out of; they are
	// skipped, and an exempt core feature makes the suite's result partial,
	// never success.
	ExemptFeatures []string `yaml:"exemptFeatures"`
	// IngressAddress is HOST:PORT of the suite's ingress as reached from
	// the machine running the tests, for the host-side features (opeaistio's
	// host-tls-ingress: the TLS ingress gateway; kserveambient's ingress:
	// the ingress Gateway's HTTP listener). On the suite's own kind cluster
	// it is the node port mapped to 127.0.0.1.
	IngressAddress string `yaml:"ingressAddress"`
	// ConfigFile is the YAML file the other fields were read from, if any.
	ConfigFile string `yaml:"-"`
}

// ChartComponents are the keys accepted in ChartSources, with their
// defaults (the upstream sources of each pinned version).
var ChartComponents = map[string]string{
	"istio":        "https://istio-release.storage.googleapis.com/charts",
	"cert-manager": "https://charts.jetstack.io",
	"knative":      "https://github.com/knative",
	"kserve":       "oci://ghcr.io/kserve/charts",
	"chatqna":      "oci://ghcr.io/opea-project/charts",
	"gateway-api":  "https://github.com/kubernetes-sigs/gateway-api/releases/download",
}

// ImageComponents are the keys accepted in Images, with what the override
// sets.
var ImageComponents = map[string]string{
	"istio":        "global.hub and global.tag of istiod, istio-cni and ztunnel; sidecars and gateways take proxyv2 from istiod's",
	"cert-manager": "repository HUB/cert-manager-<controller|webhook|cainjector|acmesolver|startupapicheck> and tag of each image block",
	"knative": "HUB/<name>:TAG (TAG default: the Knative release, v1.21.1) for the operator chart's operator and operator-webhook, and the KnativeServing's spec.registry.override and queue-sidecar-image: " +
		"controller, webhook, activator, autoscaler, autoscaler-hpa, queue, migrate, cleanup, net-istio-controller, net-istio-webhook",
	"kserve": "HUB/<name>:TAG (TAG default: the KServe version) for the manager (kserve-controller, pulled IfNotPresent), the storage initializer (storage-initializer) and the sklearn " +
		"ClusterServingRuntime (sklearnserver); HUB/kube-rbac-proxy keeps the chart's tag (v0.18.0)",
}

// Image returns a component's image override: its hub, and its tag ("" to
// keep the chart's). ok is false when there is none.
func (o Options) Image(component string) (hub, tag string, ok bool) {
	ref := o.Images[component]
	if ref == "" {
		return "", "", false
	}
	hub, tag = SplitImageRef(ref)
	return hub, tag, true
}

// SplitImageRef splits HUB[:TAG] as an image reference is split: the tag
// follows the last colon after the last slash, so a registry port
// (localhost:5000/istio) is part of the hub.
func SplitImageRef(ref string) (hub, tag string) {
	i := strings.LastIndex(ref, ":")
	if i > strings.LastIndex(ref, "/") {
		return ref[:i], ref[i+1:]
	}
	return ref, ""
}

// checkImageRef says what is wrong with a HUB[:TAG] override, or nil.
func checkImageRef(ref string) error {
	hub, tag := SplitImageRef(ref)
	switch {
	case strings.Contains(ref, "@"):
		return fmt.Errorf("%q has a digest: the charts take a hub and a tag only", ref)
	case hub == "" || strings.HasSuffix(hub, "/") || strings.ContainsAny(ref, " \t"):
		return fmt.Errorf("%q is not HUB[:TAG], e.g. registry.example.com/istio:1.27.1", ref)
	case tag == "" && strings.HasSuffix(ref, ":"):
		return fmt.Errorf("%q has an empty tag: drop the colon to keep the chart's tag", ref)
	}
	return nil
}

// InstallPolicies are the accepted values of Install.
var InstallPolicies = []string{"all", "missing", "none"}

// InstallPolicy returns the policy for a component.
func (o Options) InstallPolicy(component string) string {
	if p := o.Install[component]; p != "" {
		return p
	}
	if p := o.Install["*"]; p != "" {
		return p
	}
	if o.UsesExistingCluster() {
		return "missing"
	}
	return "all"
}

// Defaults returns the options of a run given nothing.
func Defaults() Options {
	return Options{
		OutputDir:        "_output",
		ChartSources:     map[string]string{},
		Images:           map[string]string{},
		Install:          map[string]string{},
		ChatQnAProfile:   ProfileLight,
		KServeProfile:    KServeDocumented,
		Setup:            SetupCorrected,
		ColdStartRepeats: 2,
		ControlRepeats:   3,
		Timeouts:         DefaultTimeouts(),
	}
}

// ChartSource returns the source for a component: the override, or the
// upstream default.
func (o Options) ChartSource(component string) string {
	if s := o.ChartSources[component]; s != "" {
		return s
	}
	return ChartComponents[component]
}

// OwnKindCluster reports whether the run creates its kind cluster from the
// suite's own configuration (and so has its port mappings).
func (o Options) OwnKindCluster() bool { return !o.UsesExistingCluster() && o.Cluster.KindConfig == "" }

// UsesExistingCluster reports whether the run targets a cluster it did not
// create.
func (o Options) UsesExistingCluster() bool { return o.Cluster.Kubeconfig != "" }

// Secrets returns the secret values present in the environment, for
// scrubbing reports and logs.
func Secrets() []string {
	var s []string
	for _, k := range []string{HuggingFaceTokenEnv, "HF_TOKEN"} {
		if v := os.Getenv(k); v != "" {
			s = append(s, v)
		}
	}
	return s
}

// Validate checks every field and the combinations of fields, and names the
// option and the accepted values in its error.
func (o Options) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if o.Mode != "" && !contains(dataplane.Modes, o.Mode) {
		bad("--mode %q is not a mode: accepted values are %s", o.Mode, join(dataplane.Modes))
	}
	if o.ControlRepeats < 1 {
		bad("--control-repeats is %d: each control needs at least one removal and restore", o.ControlRepeats)
	}
	if o.ColdStartRepeats < 1 {
		bad("--cold-start-repeats is %d: at least one cold sequence is needed", o.ColdStartRepeats)
	}
	if !contains(KServeProfiles, o.KServeProfile) {
		bad("--kserve-profile %q is not a KServe profile: accepted values are %s", o.KServeProfile, join(KServeProfiles))
	}
	if !contains(Setups, o.Setup) {
		bad("--setup %q is not a setup: accepted values are %s", o.Setup, join(Setups))
	}
	if o.ChatQnAModelPVC != "" && o.ChatQnAProfile != ProfileFull {
		bad("--chatqna-model-pvc applies to --chatqna-profile=full only: the light profile runs no model server")
	}
	if !contains(Profiles, o.ChatQnAProfile) {
		bad("--chatqna-profile %q is not a profile: accepted values are %s", o.ChatQnAProfile, join(Profiles))
	}
	for k, v := range o.Install {
		if _, ok := ChartComponents[k]; !ok && k != "*" {
			bad("--install %s=%s: unknown component: accepted components are %s", k, v, strings.Join(sortedKeys(ChartComponents), ", "))
		}
		if !contains(InstallPolicies, v) {
			bad("--install %s=%s: accepted values are %s", k, v, strings.Join(InstallPolicies, ", "))
		}
	}
	for _, a := range o.Cluster.ImageArchives {
		if _, err := os.Stat(a); err != nil {
			bad("--image-archive %s: %v", a, err)
		}
	}
	if o.OutputDir == "" {
		bad("--output-dir must not be empty: the report is written there")
	}
	for k := range o.ChartSources {
		if _, ok := ChartComponents[k]; !ok {
			bad("--chart-source %q: unknown component: accepted components are %s", k, strings.Join(sortedKeys(ChartComponents), ", "))
		}
	}
	for k, v := range o.Images {
		if _, ok := ImageComponents[k]; !ok {
			bad("--image %q: unknown component: accepted components are %s", k, strings.Join(sortedKeys(ImageComponents), ", "))
		}
		if err := checkImageRef(v); err != nil {
			bad("--image %s=%s: %v", k, v, err)
		}
	}
	if o.Versions.Istio != "" {
		if err := versions.CheckIstio(o.Versions.Istio, o.Mode == dataplane.Ambient); err != nil {
			bad("--istio-version: %v", err)
		}
	}
	for name, v := range map[string]string{
		"--cert-manager-version": o.Versions.CertManager, "--gateway-api-version": o.Versions.GatewayAPI,
		"--knative-version": o.Versions.KnativeServing, "--kserve-version": o.Versions.KServe,
		"--chatqna-version": o.Versions.ChatQnA,
	} {
		if v == "" {
			continue
		}
		if _, err := versions.Parse(v); err != nil {
			bad("%s: %v", name, err)
		}
	}

	t := o.Timeouts
	for name, d := range map[string]time.Duration{
		"--request-timeout": t.RequestTimeout, "--max-time-to-consistency": t.MaxTimeToConsistency,
		"--round-interval": t.RoundInterval, "--install-timeout": t.InstallTimeout,
		"--ready-timeout": t.ReadyTimeout, "--cluster-timeout": t.ClusterTimeout,
		"--inference-service-ready-timeout": t.InferenceServiceReadyTimeout, "--cluster-lock-timeout": t.ClusterLockTimeout,
		"--host-lock-timeout":  t.HostLockTimeout,
		"--cold-start-timeout": t.ColdStartTimeout,
	} {
		if d <= 0 {
			bad("%s must be a positive duration such as 30s or 5m, got %v", name, d)
		}
	}
	if t.RequiredConsecutiveSuccesses < 1 {
		bad("--required-consecutive-successes must be at least 1, got %d", t.RequiredConsecutiveSuccesses)
	}
	if t.RequestTimeout > 0 && t.MaxTimeToConsistency > 0 && t.RequestTimeout >= t.MaxTimeToConsistency {
		bad("--request-timeout (%v) must be shorter than --max-time-to-consistency (%v): no round could finish in time", t.RequestTimeout, t.MaxTimeToConsistency)
	}

	for _, f := range o.SupportedFeatures {
		if contains(o.ExemptFeatures, f) {
			bad("feature %q is both claimed (--supported-features) and exempt (--exempt-features): drop it from one of them", f)
		}
	}
	if o.IngressAddress != "" {
		if _, port, err := net.SplitHostPort(o.IngressAddress); err != nil || port == "" {
			bad("--ingress-address %q is not HOST:PORT, e.g. 203.0.113.10:443", o.IngressAddress)
		}
	}

	if o.UsesExistingCluster() {
		if o.Cluster.KindConfig != "" {
			bad("--kind-config applies only to a kind cluster the suite creates, but --kubeconfig selects an existing cluster: drop one of them")
		}
		if o.Cluster.Keep {
			bad("--keep-cluster applies only to a kind cluster the suite creates; an existing cluster (--kubeconfig) is never deleted: drop --keep-cluster")
		}
		if len(o.Cluster.ImageArchives) > 0 {
			bad("--image-archive loads images into a kind cluster the suite creates; for an existing cluster (--kubeconfig), load them with your own tooling")
		}
		if o.Versions.NodeImage != "" {
			bad("--node-image applies only to a kind cluster the suite creates, but --kubeconfig selects an existing cluster: drop one of them")
		}
	}
	return errors.Join(errs...)
}

// ReadConfigFile reads a YAML config file over base. Unknown keys are an
// error, so a misspelt option never silently does nothing.
func ReadConfigFile(path string, base Options) (Options, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return base, fmt.Errorf("--config: %w", err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	out := base
	if err := dec.Decode(&out); err != nil && err.Error() != "EOF" {
		hint := ""
		if m := unknownKey.FindStringSubmatch(err.Error()); m != nil {
			if near := Nearest(m[1], configKeys()); near != "" {
				hint = fmt.Sprintf("; did you mean %q?", near)
			}
		}
		return base, fmt.Errorf("--config %s: %v%s (the keys are those of docs/flags.md)", path, err, hint)
	}
	if out.ChartSources == nil {
		out.ChartSources = map[string]string{}
	}
	if out.Install == nil {
		out.Install = map[string]string{}
	}
	if out.Images == nil {
		out.Images = map[string]string{}
	}
	out.ConfigFile = path
	return out, nil
}

// unknownKey finds the key yaml's strict decoding refused.
var unknownKey = regexp.MustCompile(`field (\S+) not found in type`)

// configKeys are the last parts of every config file key.
func configKeys() []string {
	o := Defaults()
	var out []string
	for _, k := range yamlKeys(reflect.ValueOf(&o).Elem(), "") {
		parts := strings.Split(k, ".")
		out = append(out, parts[len(parts)-1])
	}
	return out
}

// yamlKeys maps each field's address to its dotted yaml key.
func yamlKeys(v reflect.Value, prefix string) map[uintptr]string {
	out := map[uintptr]string{}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f, fv := t.Field(i), v.Field(i)
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if name == "" || name == "-" {
			continue
		}
		key := prefix + name
		out[fv.Addr().Pointer()] = key
		if fv.Kind() == reflect.Struct {
			for k, s := range yamlKeys(fv, key+".") {
				out[k] = s
			}
		}
	}
	return out
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func join[T ~string](list []T) string {
	s := make([]string, len(list))
	for i, v := range list {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
