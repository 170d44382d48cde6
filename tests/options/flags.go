package options

import (
	"flag"
	"fmt"
	"strings"

	"github.com/secure-inference/mesh-conformance/tests/dataplane"
)

// Register binds every option to a flag of fs, writing into o.
func Register(fs *flag.FlagSet, o *Options) {
	fs.StringVar(&o.ConfigFile, "config", o.ConfigFile, "YAML config file with any of the options below; flags set on the command line win over it")
	fs.Var(&choiceFlag[dataplane.Mode]{v: &o.Mode, choices: dataplane.Modes, what: "mode"}, "mode", "Istio data-plane mode: sidecar or ambient; default: the mode the suite's document describes (kservemesh sidecar; opeaistio, kserveambient ambient)")
	fs.BoolVar(&o.ListModes, "list-modes", o.ListModes, "print the modes the suite supports, its document's first, and exit")
	fs.StringVar(&o.OutputDir, "output-dir", o.OutputDir, "directory for the report and diagnostics")
	fs.StringVar(&o.Cluster.Name, "cluster-name", o.Cluster.Name, "name of the kind cluster to create or reuse; default mesh-conformance-<suite>-<mode>")
	fs.StringVar(&o.Cluster.KindConfig, "kind-config", o.Cluster.KindConfig, "kind configuration file, instead of the suite's own under kind-config/")
	fs.BoolVar(&o.Cluster.Keep, "keep-cluster", o.Cluster.Keep, "keep a kind cluster the run created")
	fs.Var(&listFlag{list: &o.Cluster.ImageArchives}, "image-archive", "image tarball to load into the kind nodes before installs, repeatable")
	fs.StringVar(&o.Versions.NodeImage, "node-image", o.Versions.NodeImage, "kind node image (Kubernetes version), by tag and digest; default: the suite's pinned image (kindest/node:v1.34.11 built for kind v0.33.0)")
	fs.StringVar(&o.Versions.Istio, "istio-version", o.Versions.Istio, "Istio version; default: the suite's pinned version")
	fs.StringVar(&o.Versions.CertManager, "cert-manager-version", o.Versions.CertManager, "cert-manager version")
	fs.StringVar(&o.Versions.GatewayAPI, "gateway-api-version", o.Versions.GatewayAPI, "Gateway API CRDs version")
	fs.StringVar(&o.Versions.KnativeServing, "knative-version", o.Versions.KnativeServing, "Knative Serving (and net-istio) version")
	fs.StringVar(&o.Versions.KServe, "kserve-version", o.Versions.KServe, "KServe version")
	fs.StringVar(&o.Versions.ChatQnA, "chatqna-version", o.Versions.ChatQnA, "OPEA ChatQnA chart version")
	fs.Var((*kvFlag)(&o.ChartSources), "chart-source", "component=source override, repeatable; components: "+strings.Join(sortedKeys(ChartComponents), ", "))
	fs.Var((*imageFlag)(&o.Images), "image", "component=HUB[:TAG] image override, repeatable, for air-gapped clusters and locally built images; only hub and tag change; components: "+strings.Join(sortedKeys(ImageComponents), ", "))
	fs.Var((*installFlag)(&o.Install), "install", "what to install: all, missing or none, for every component or as component=policy, repeatable; default all on kind, missing on --kubeconfig")
	fs.Var(&choiceFlag[Profile]{v: &o.ChatQnAProfile, choices: Profiles, what: "profile"}, "chatqna-profile", "ChatQnA profile: light (kind) or full (needs $"+HuggingFaceTokenEnv+", about 80 GiB of memory and a longer --install-timeout)")
	fs.Var(&choiceFlag[KServeProfile]{v: &o.KServeProfile, choices: KServeProfiles, what: "KServe profile"}, "kserve-profile", "kservemesh setup: documented (the document's, corrected per FACTS.md) or hardened (plus OpenShift Serverless's activator policies, knative-istio-authz-chart)")
	fs.Var(&choiceFlag[Setup]{v: &o.Setup, choices: Setups, what: "setup"}, "setup", "corrected (the document with FACTS.md's corrections: the conformance run) or as-written (the document's steps as printed, for findings about the document, reported apart; opeaistio in ambient mode, kservemesh in its documented profile)")
	fs.IntVar(&o.ControlRepeats, "control-repeats", o.ControlRepeats, "times each control removes and restores its resources (samples of time to open and to revoke)")
	fs.IntVar(&o.ColdStartRepeats, "cold-start-repeats", o.ColdStartRepeats, "cold sequences per client of cold-start-isolation, each after the model scaled back to zero")
	fs.StringVar(&o.ChatQnAModelPVC, "chatqna-model-pvc", o.ChatQnAModelPVC, "full profile: an existing, Bound PersistentVolumeClaim in chatqna the model servers share (global.modelUsePVC); default none")
	fs.Var(&featuresFlag{listFlag{list: &o.SupportedFeatures}}, "supported-features", "extended features the implementation claims, as [suite/]feature, comma-separated or repeated; unclaimed extended features are reported as unsupported")
	fs.BoolVar(&o.AllFeatures, "all-features", o.AllFeatures, "claim every extended feature of the suite")
	fs.Var(&featuresFlag{listFlag{list: &o.ExemptFeatures}}, "exempt-features", "features the implementation opts out of, as [suite/]feature, comma-separated or repeated; skipped and reported (an exempt core feature makes the suite partial)")
	fs.StringVar(&o.IngressAddress, "ingress-address", o.IngressAddress, "HOST:PORT of the suite's ingress as reached from this machine, for opeaistio's host-tls-ingress (the TLS ingress) and kserveambient's ingress (the ingress Gateway's HTTP listener); default on the suite's kind cluster: its mapped node port on 127.0.0.1")
	im := &o.Implementation
	fs.StringVar(&im.Organization, "organization", im.Organization, "report: organization of the implementation under test")
	fs.StringVar(&im.Project, "project", im.Project, "report: project of the implementation under test")
	fs.StringVar(&im.URL, "url", im.URL, "report: URL of the implementation under test")
	fs.StringVar(&im.Version, "version", im.Version, "report: version of the implementation under test")
	fs.StringVar(&im.Contact, "contact", im.Contact, "report: contact for the implementation under test")
	t := &o.Timeouts
	fs.DurationVar(&t.RequestTimeout, "request-timeout", t.RequestTimeout, "time limit of one probe request")
	fs.DurationVar(&t.MaxTimeToConsistency, "max-time-to-consistency", t.MaxTimeToConsistency, "time limit for a matrix to settle")
	fs.IntVar(&t.RequiredConsecutiveSuccesses, "required-consecutive-successes", t.RequiredConsecutiveSuccesses, "rounds in a row a cell must match to pass")
	fs.DurationVar(&t.RoundInterval, "round-interval", t.RoundInterval, "pause between probe rounds")
	fs.DurationVar(&t.InstallTimeout, "install-timeout", t.InstallTimeout, "time limit of one component install")
	fs.DurationVar(&t.ReadyTimeout, "ready-timeout", t.ReadyTimeout, "time limit of a readiness wait")
	fs.DurationVar(&t.MaxTimeToRevoke, "max-time-to-revoke", t.MaxTimeToRevoke, "fail a control whose restored policy took longer to refuse again; default 0: report the time only")
	fs.DurationVar(&t.ColdStartTimeout, "cold-start-timeout", t.ColdStartTimeout, "time limit of one request to a model scaled to zero (download and start)")
	fs.DurationVar(&t.ClusterLockTimeout, "cluster-lock-timeout", t.ClusterLockTimeout, "time limit to wait for another run on the same cluster to finish")
	fs.DurationVar(&t.HostLockTimeout, "host-lock-timeout", t.HostLockTimeout, "time limit to wait for another run on this host that creates a kind cluster (they run one at a time); the test binary's -timeout bounds it too")
	fs.DurationVar(&t.InferenceServiceReadyTimeout, "inference-service-ready-timeout", t.InferenceServiceReadyTimeout, "time limit for an InferenceService to be Ready (model download and image pulls)")
	fs.DurationVar(&t.ClusterTimeout, "cluster-timeout", t.ClusterTimeout, "time limit for creating a kind cluster")
}

// New gives the run's options bound to fs, for one parse: the defaults,
// then the config file that args name with --config, then whatever flags
// fs.Parse meets, each written over the file's value (a list flag given on
// the command line replaces the file's list; chart sources and install
// policies merge by component). Call Finish once fs is parsed.
func New(fs *flag.FlagSet, args []string) (*Options, error) {
	o := Defaults()
	if path := configArg(args); path != "" {
		var err error
		if o, err = ReadConfigFile(path, o); err != nil {
			return nil, err
		}
	}
	Register(fs, &o)
	return &o, nil
}

// Finish completes the options once fs is parsed: e2e-framework's
// --kubeconfig, when registered on fs, is taken too; then every field is
// validated.
func (o *Options) Finish(fs *flag.FlagSet) error {
	if kc := fs.Lookup("kubeconfig"); kc != nil && kc.Value.String() != "" {
		o.Cluster.Kubeconfig = kc.Value.String()
	}
	return o.Validate()
}

// configArg is the value of the last --config (or -config) in args, as
// the flag package will parse it: "--config=f" or "--config f", before a
// "--" that ends the flags.
func configArg(args []string) string {
	path := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config" {
			continue
		}
		if hasVal {
			path = val
		} else if i+1 < len(args) {
			path = args[i+1]
			i++
		}
	}
	return path
}

// choiceFlag takes one of a fixed list of values and validates while
// parsing, so `--mode=foo` fails at once, naming the accepted values.
type choiceFlag[T ~string] struct {
	v       *T
	choices []T
	what    string
}

func (c *choiceFlag[T]) String() string {
	if c.v == nil {
		return ""
	}
	return string(*c.v)
}
func (c *choiceFlag[T]) Set(s string) error {
	if !contains(c.choices, T(s)) {
		return fmt.Errorf("%q is not a %s: accepted values are %s", s, c.what, join(c.choices))
	}
	*c.v = T(s)
	return nil
}

// installFlag takes "policy" (every component) or "component=policy".
type installFlag map[string]string

func (f *installFlag) String() string { return (*kvFlag)(f).String() }
func (f *installFlag) Set(s string) error {
	key, val, ok := strings.Cut(s, "=")
	if !ok {
		key, val = "*", s
	}
	if key != "*" {
		if _, known := ChartComponents[key]; !known {
			return fmt.Errorf("unknown component %q: accepted components are %s", key, strings.Join(sortedKeys(ChartComponents), ", "))
		}
	}
	if !contains(InstallPolicies, val) {
		return fmt.Errorf("%q is not an install policy: accepted values are %s", val, strings.Join(InstallPolicies, ", "))
	}
	if *f == nil {
		*f = map[string]string{}
	}
	(*f)[key] = val
	return nil
}

// listFlag is a repeatable string flag. Its first use on the command line
// replaces the list the config file gave; later uses add to it.
type listFlag struct {
	list *[]string
	set  bool
}

func (l *listFlag) String() string {
	if l == nil || l.list == nil {
		return ""
	}
	return strings.Join(*l.list, ",")
}

func (l *listFlag) Set(s string) error {
	if !l.set {
		*l.list, l.set = nil, true
	}
	*l.list = append(*l.list, s)
	return nil
}

// featuresFlag takes feature names, comma-separated or repeated, as Gateway
// API's --supported-features does; like listFlag, its first use replaces
// the file's list.
type featuresFlag struct{ listFlag }

func (l *featuresFlag) Set(s string) error {
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			if err := l.listFlag.Set(f); err != nil {
				return err
			}
		}
	}
	if !l.set { // "--exempt-features=" clears the file's list
		*l.list, l.set = nil, true
	}
	return nil
}

var (
	_ flag.Value = (*featuresFlag)(nil)
	_ flag.Value = (*listFlag)(nil)
	_ flag.Value = (*installFlag)(nil)
	_ flag.Value = (*choiceFlag[Profile])(nil)
	_ flag.Value = (*kvFlag)(nil)
	_ flag.Value = (*imageFlag)(nil)
)

// imageFlag is a repeatable component=HUB[:TAG] flag, checked as it is
// parsed.
type imageFlag map[string]string

func (f *imageFlag) String() string { return (*kvFlag)(f).String() }
func (f *imageFlag) Set(s string) error {
	key, val, ok := strings.Cut(s, "=")
	if !ok || key == "" || val == "" {
		return fmt.Errorf("%q is not of the form component=HUB[:TAG]", s)
	}
	if _, known := ImageComponents[key]; !known {
		return fmt.Errorf("unknown component %q: accepted components are %s", key, strings.Join(sortedKeys(ImageComponents), ", "))
	}
	if err := checkImageRef(val); err != nil {
		return err
	}
	if *f == nil {
		*f = map[string]string{}
	}
	(*f)[key] = val
	return nil
}

// kvFlag is a repeatable component=source flag.
type kvFlag map[string]string

func (k *kvFlag) String() string {
	if k == nil || *k == nil {
		return ""
	}
	parts := make([]string, 0, len(*k))
	for _, key := range sortedKeys(*k) {
		parts = append(parts, key+"="+(*k)[key])
	}
	return strings.Join(parts, ",")
}

func (k *kvFlag) Set(s string) error {
	key, val, ok := strings.Cut(s, "=")
	if !ok || key == "" || val == "" {
		return fmt.Errorf("%q is not of the form component=source", s)
	}
	if _, known := ChartComponents[key]; !known {
		return fmt.Errorf("unknown component %q: accepted components are %s", key, strings.Join(sortedKeys(ChartComponents), ", "))
	}
	if *k == nil {
		*k = map[string]string{}
	}
	(*k)[key] = val
	return nil
}
