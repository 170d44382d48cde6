// Package v1alpha1 holds the types of the conformance report
// (report.yaml), as Gateway API keeps conformance/apis/v1: a reader of
// reports imports this package alone, and nothing of the probe engine
// (exec, curl, matrices) comes with it. It imports only the standard
// library; a test enforces that.
package v1alpha1

import "time"

const (
	// APIVersion of the report format. Bump it on any incompatible change.
	APIVersion = "mesh-conformance.secure-inference.io/v1alpha1"
	// Kind of the report document.
	Kind = "ConformanceReport"
)

// Result of a suite.
type Result string

const (
	Success Result = "success"
	// Partial: nothing failed, but a check was skipped.
	Partial Result = "partial"
	Failure Result = "failure"
	// Skipped is the result of a feature that did not run.
	Skipped Result = "skipped"
)

// Support levels of a feature, as in Gateway API conformance.
const (
	// Core features are always claimed: skipping one makes the suite partial.
	Core = "core"
	// Extended features run only when the implementation claims them.
	Extended = "extended"
)

// Report is the document written to FileName.
type Report struct {
	APIVersion     string         `json:"apiVersion"`
	Kind           string         `json:"kind"`
	Date           time.Time      `json:"date"`
	Implementation Implementation `json:"implementation,omitempty"`
	Environment    Environment    `json:"environment"`
	// Provenance says what the verdicts rest on: the suite's own source,
	// what it applied, what ran.
	Provenance *Provenance `json:"provenance,omitempty"`
	Suites     []Suite     `json:"suites"`
}

// Provenance is what makes a report reproducible and trustworthy.
type Provenance struct {
	Suite SuiteSource `json:"suite"`
	// Fixtures are the sha256 of every manifest and values file the suite
	// carries, by path under fixtures/.
	Fixtures map[string]string `json:"fixtures,omitempty"`
	// Charts are the Helm releases as installed.
	Charts []Chart `json:"charts,omitempty"`
	// Cluster is what ran.
	Cluster *ClusterProvenance `json:"cluster,omitempty"`
	// Reproduce is the command line of the run, secrets redacted.
	Reproduce []string `json:"reproduce,omitempty"`
	// Deviations are the places where the run's suite does not do what
	// its document says (the corrections of docs/FACTS.md, and what the
	// suite adds), each named with its step: a report says which of its
	// setup steps are not in the document.
	// Added to v1alpha1 without a version bump: optional, and a reader
	// that does not know it loses nothing it had.
	Deviations []Deviation `json:"deviations,omitempty"`
}

// Deviation is one correction a suite makes to its document, or one
// thing it adds.
type Deviation struct {
	// Name is the deviation's short, stable name.
	Name string `json:"name"`
	// Step is the suite's setup step that deviates, or its feature, for
	// what the document does after its setup (its cleanup, its requests).
	Step string `json:"step"`
	// Document is what the document says; Suite what the suite does
	// instead; Source where the fact is checked (docs/FACTS.md, an
	// upstream file).
	Document string `json:"document"`
	Suite    string `json:"suite"`
	Source   string `json:"source"`
}

// SuiteSource is the suite's own identity.
type SuiteSource struct {
	Module string `json:"module"`
	Commit string `json:"commit,omitempty"`
	// Dirty: the working tree differed from Commit; FixturesEdited: in
	// fixtures/ (what the run applied is not what the commit holds).
	Dirty          bool     `json:"dirty"`
	FixturesEdited bool     `json:"fixturesEdited"`
	Changed        []string `json:"changed,omitempty"`
}

// Chart is one Helm release as installed.
type Chart struct {
	Release   string `json:"release"`
	Namespace string `json:"namespace"`
	Chart     string `json:"chart"`
	Version   string `json:"version,omitempty"`
	Source    string `json:"source"`
	Digest    string `json:"digest,omitempty"`
}

// ClusterProvenance identifies the cluster and what it ran.
type ClusterProvenance struct {
	// KubeSystemUID identifies the cluster (kube-system's UID).
	KubeSystemUID string `json:"kubeSystemUID,omitempty"`
	Nodes         []Node `json:"nodes,omitempty"`
	// IstioRevision and RootCertSHA256 (of istio-ca-root-cert) identify
	// the mesh and its trust root.
	IstioRevision  string `json:"istioRevision,omitempty"`
	RootCertSHA256 string `json:"rootCertSHA256,omitempty"`
	// Images are the image digests pods ran, by image reference.
	Images []Image `json:"images,omitempty"`
}

// Node is one node's versions.
type Node struct {
	Name             string `json:"name"`
	Kubelet          string `json:"kubelet"`
	ContainerRuntime string `json:"containerRuntime"`
	OSImage          string `json:"osImage"`
}

// Image is what a container ran: its reference and the digest (imageID)
// the runtime reported.
type Image struct {
	Namespace string `json:"namespace"`
	Image     string `json:"image"`
	ImageID   string `json:"imageID"`
}

// Implementation identifies the distribution under test.
type Implementation struct {
	Organization string `json:"organization,omitempty"`
	Project      string `json:"project,omitempty"`
	URL          string `json:"url,omitempty"`
	Version      string `json:"version,omitempty"`
	Contact      string `json:"contact,omitempty"`
}

// Environment describes what the run ran on.
type Environment struct {
	// Cluster is kind-<name> for a kind cluster, or existing (<kubeconfig
	// file>) for the cluster --kubeconfig selects.
	Cluster           string `json:"cluster"`
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	Mode              string `json:"mode"`
	// Profile is the suite's setup profile when it has more than one
	// (kservemesh: documented or hardened, --kserve-profile): the same
	// cells mean different things under each.
	Profile string `json:"profile,omitempty"`
	// AsWritten: the run applied its document's steps as printed
	// (--setup=as-written), not the corrected setup: its results are
	// findings about the document, and the summary keeps them apart from
	// the conformance verdicts. Added to v1alpha1 without a version bump:
	// optional, false for every report written before it.
	AsWritten bool `json:"asWritten,omitempty"`
	// Versions holds the version of each component the suite needs, as the
	// run used it: the one it installed, or the one it found on the
	// cluster and left as it was ("unknown" when the cluster does not say);
	// nodeImage only for a kind cluster the run created. Keys are the
	// components' names in the plan (istio, istio-cni, ztunnel,
	// istio-gateway, knative, kserve, cert-manager, gateway-api, chatqna).
	Versions map[string]string `json:"versions,omitempty"`
	// Sources says, per key of Versions, which: installed or found.
	Sources map[string]ComponentSource `json:"sources,omitempty"`
}

// ComponentSource says where a component's version comes from.
type ComponentSource string

const (
	// Installed: this run installed (or upgraded in place) the component.
	Installed ComponentSource = "installed"
	// Found: the component was on the cluster and the run used it as found.
	Found ComponentSource = "found"
)

// Suite is the result of one suite: the worse of its core and extended
// results.
type Suite struct {
	Name   string `json:"name"`
	Result Result `json:"result"`
	// Core holds the features every implementation must pass, and the
	// setup steps; a skipped core feature makes it partial, never success.
	// It aggregates the features' results: a feature's checks and cells
	// count through its result alone (the harness fails a feature on any
	// failed check or cell of its own).
	Core Profile `json:"core"`
	// Extended holds the features an implementation may claim; those it
	// does not claim are listed as unsupported and change no result.
	Extended *Profile  `json:"extended,omitempty"`
	Features []Feature `json:"features,omitempty"`
	Checks   []Check   `json:"checks,omitempty"`
	Matrices []Matrix  `json:"matrices,omitempty"`
	// Findings are observations that carry no verdict but that a reader
	// must see (what a cross-namespace request got while a model was
	// cold), with curl's evidence.
	Findings []Finding `json:"findings,omitempty"`
	// Timings are the controls' times to open and to revoke.
	Timings []Timing `json:"timings,omitempty"`
	// AttackSurfaces are the bypass-paths feature's tables: every port of
	// a protected workload's pods, probed by pod IP.
	AttackSurfaces []AttackSurface `json:"attackSurfaces,omitempty"`
	// Disruptions are the fail-closed feature's accounts: what was taken
	// away and put back while refused and allowed cells were probed.
	Disruptions []Disruption `json:"disruptions,omitempty"`
	// ProfileCells are, for a suite with more than one setup profile
	// (kservemesh: documented and hardened), the cells whose expectation
	// differs between them, each with its expectation under every
	// profile: what a profile buys. This run's own observation of each is
	// its cell in Matrices, under Environment.Profile. Added to v1alpha1
	// without a version bump: optional, and a reader that does not know
	// it loses nothing it had.
	ProfileCells []ProfileCell `json:"profileCells,omitempty"`
}

// ProfileCell is one cell present under every setup profile of a suite
// whose expectation is not the same under all of them.
type ProfileCell struct {
	Matrix  string `json:"matrix"`
	Cell    string `json:"cell"`
	Client  string `json:"client"`
	Request string `json:"request"`
	// Expected is the cell's expectation (as Cell.Expected renders it) by
	// profile name.
	Expected map[string]string `json:"expected"`
}

// Disruption is what one thing taken away and put back (istiod, a node
// proxy, the activator) did to the cells probed every round meanwhile:
// any refused cell answering 2xx (a breach: the mesh failed open), how
// long each allowed cell was down and how soon after restoration it came
// back.
type Disruption struct {
	Name string `json:"name"`
	// Feature is the feature that ran it.
	Feature string `json:"feature,omitempty"`
	What    string `json:"what"`
	Matrix  string `json:"matrix"`
	Rounds  int    `json:"rounds"`
	// RoundsByPhase counts rounds by when they began: before, taking,
	// taken, restoring, after.
	RoundsByPhase map[string]int `json:"roundsByPhase,omitempty"`
	// ResolutionSeconds, the round interval, bounds the precision of the
	// times; RecoveryLimitSeconds is how long after restoration the
	// allowed cells may take to answer again.
	ResolutionSeconds    float64 `json:"resolutionSeconds"`
	RecoveryLimitSeconds float64 `json:"recoveryLimitSeconds"`
	// TakenAtSeconds, GoneAtSeconds and RestoredAtSeconds are from the
	// start of the disruption's first round.
	TakenAtSeconds    float64            `json:"takenAtSeconds,omitempty"`
	GoneAtSeconds     float64            `json:"goneAtSeconds,omitempty"`
	RestoredAtSeconds float64            `json:"restoredAtSeconds,omitempty"`
	Breaches          []Breach           `json:"breaches,omitempty"`
	Allowed           []DisruptedAllowed `json:"allowed,omitempty"`
	// EnvironmentErrors name the cells the environment kept from being
	// observed enough: no verdict on them.
	EnvironmentErrors []string `json:"environmentErrors,omitempty"`
	// TakeError: the disruption did not happen as meant (no verdict);
	// RestoreError: what was taken away may not be back.
	TakeError    string `json:"takeError,omitempty"`
	RestoreError string `json:"restoreError,omitempty"`
	Error        string `json:"error,omitempty"`
	Restored     bool   `json:"restored"`
	Result       Result `json:"result"`
}

// Breach is a refused cell that answered 2xx in one round.
type Breach struct {
	Round     int      `json:"round"`
	Phase     string   `json:"phase"`
	AtSeconds float64  `json:"atSeconds"`
	Cell      string   `json:"cell"`
	Client    string   `json:"client"`
	Request   string   `json:"request"`
	Observed  string   `json:"observed"`
	Evidence  Evidence `json:"evidence"`
}

// DisruptedAllowed is an allowed cell's account of a disruption.
type DisruptedAllowed struct {
	Cell       string  `json:"cell"`
	Down       bool    `json:"down"`
	DownRounds int     `json:"downRounds,omitempty"`
	DownAt     float64 `json:"downAtSeconds,omitempty"`
	// DowntimeSeconds runs from the first round it failed to the first
	// round of the streak that recovered it.
	DowntimeSeconds       float64 `json:"downtimeSeconds,omitempty"`
	Recovered             bool    `json:"recovered"`
	RecoveredAfterSeconds float64 `json:"recoveredAfterRestorationSeconds,omitempty"`
	Reason                string  `json:"reason,omitempty"`
}

// AttackSurface is what every way to one protected workload got: each
// port of each of its pods, from each client, by pod IP rather than the
// documented URL.
type AttackSurface struct {
	Workload  string `json:"workload"`
	Namespace string `json:"namespace"`
	// Feature is the feature that probed it.
	Feature string       `json:"feature,omitempty"`
	Rows    []SurfaceRow `json:"rows"`
}

// Verdicts of a SurfaceRow.
const (
	// SurfaceRefused: the port refused the caller.
	SurfaceRefused = "refused"
	// SurfaceReachable: the caller got an answer: a bypass.
	SurfaceReachable = "REACHABLE"
	// SurfaceFailed: neither refused nor answered as expected (a refusal
	// naming a protected model, a timeout).
	SurfaceFailed = "failed"
	// SurfaceNotObserved: the environment kept the probe from running.
	SurfaceNotObserved = "not-observed"
	// SurfaceInformational: a documented plaintext port; its answer is a
	// finding, not a verdict.
	SurfaceInformational = "informational"
)

// SurfaceRow is one probe of an attack surface.
type SurfaceRow struct {
	Pod   string `json:"pod"`
	PodIP string `json:"podIP"`
	Port  int32  `json:"port"`
	// Container declares the port, or owns it (a mesh component's
	// well-known port); Purpose is its name or documented use; Source
	// cites where a port not in the pod spec comes from.
	Container string `json:"container"`
	Purpose   string `json:"purpose"`
	Source    string `json:"source,omitempty"`
	From      string `json:"from"`
	Request   string `json:"request"`
	Observed  string `json:"observed"`
	Verdict   string `json:"verdict"`
	// Reveals are the protected names (models) the answer's body holds.
	Reveals []string `json:"reveals,omitempty"`
	Reason  string   `json:"reason,omitempty"`
}

// Timing is how long a control's changes took to show in traffic, per
// repetition: from the API write that removed the resources until the
// refused requests were answered (open), and from the write that restored
// them until they were refused again (revoke). ResolutionSeconds, the
// round interval, bounds the precision.
type Timing struct {
	Control           string    `json:"control"`
	Feature           string    `json:"feature,omitempty"`
	OpenSeconds       []float64 `json:"openSeconds,omitempty"`
	RevokeSeconds     []float64 `json:"revokeSeconds,omitempty"`
	MedianOpen        float64   `json:"medianOpenSeconds,omitempty"`
	MaxOpen           float64   `json:"maxOpenSeconds,omitempty"`
	MedianRevoke      float64   `json:"medianRevokeSeconds,omitempty"`
	MaxRevoke         float64   `json:"maxRevokeSeconds,omitempty"`
	ResolutionSeconds float64   `json:"resolutionSeconds"`
	// MaxTimeToRevokeSeconds, when set, made the revoke time a verdict.
	MaxTimeToRevokeSeconds float64 `json:"maxTimeToRevokeSeconds,omitempty"`
	Result                 Result  `json:"result,omitempty"`
}

// Finding is an observation without a verdict.
type Finding struct {
	Name string `json:"name"`
	// Feature is the feature that made the observation.
	Feature  string   `json:"feature,omitempty"`
	Client   string   `json:"client,omitempty"`
	Request  string   `json:"request,omitempty"`
	Observed string   `json:"observed"`
	Note     string   `json:"note,omitempty"`
	Evidence Evidence `json:"evidence"`
	// Seconds holds timings by name (time to first byte, time to ready).
	Seconds map[string]float64 `json:"seconds,omitempty"`
}

// Profile is the result of one support level of a suite.
type Profile struct {
	Result     Result     `json:"result,omitempty"`
	Statistics Statistics `json:"statistics"`
	// FailedFeatures and SkippedFeatures name the features behind the result.
	FailedFeatures  []string `json:"failedFeatures,omitempty"`
	SkippedFeatures []string `json:"skippedFeatures,omitempty"`
	// SupportedFeatures and UnsupportedFeatures: extended only, what the
	// implementation claimed and what it did not.
	SupportedFeatures   []string `json:"supportedFeatures,omitempty"`
	UnsupportedFeatures []string `json:"unsupportedFeatures,omitempty"`
}

// Statistics count the features of a profile by result.
type Statistics struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

// Feature is the result of one feature of a suite.
type Feature struct {
	Name    string `json:"name"`
	Support string `json:"support"`
	Result  Result `json:"result"`
	Message string `json:"message,omitempty"`
	// Unsupported: an extended feature the implementation did not claim.
	Unsupported bool `json:"unsupported,omitempty"`
}

// Check is a named assertion outside a matrix (a premise, a control).
type Check struct {
	Name string `json:"name"`
	// Feature is the feature that ran the check; empty for setup steps,
	// which count in the core result by themselves.
	Feature string `json:"feature,omitempty"`
	Result  Result `json:"result"`
	Message string `json:"message,omitempty"`
}

// Matrix is one probed matrix.
type Matrix struct {
	Name string `json:"name"`
	// Feature is the feature that probed the matrix; empty for a matrix
	// recorded outside any feature, which counts in core by itself.
	Feature         string  `json:"feature,omitempty"`
	Rounds          int     `json:"rounds"`
	DurationSeconds float64 `json:"durationSeconds"`
	Error           string  `json:"error,omitempty"`
	Cells           []Cell  `json:"cells"`
}

// Cell is one probed cell.
type Cell struct {
	Name            string  `json:"name"`
	Client          string  `json:"client"`
	Request         string  `json:"request"`
	Expected        string  `json:"expected"`
	Observed        string  `json:"observed"`
	Result          Result  `json:"result"`
	Attempts        int     `json:"attempts"`
	DurationSeconds float64 `json:"durationSeconds"`
	Note            string  `json:"note,omitempty"`
	Reason          string  `json:"reason,omitempty"`
	// EnvironmentErrors counts rounds the environment kept the cell from
	// being probed (an exec failed or was cut, the client pod was gone).
	// EnvironmentError marks a failure that comes only from them: no
	// verdict on the cluster's enforcement, neither allowed nor denied.
	EnvironmentErrors int      `json:"environmentErrors,omitempty"`
	EnvironmentError  bool     `json:"environmentError,omitempty"`
	Evidence          Evidence `json:"evidence"`
}

// Evidence is what curl reported for a cell or a finding: the report's own
// copy of the probe's evidence, so that reading it needs no probe code.
type Evidence struct {
	ExitCode        int     `json:"exitCode"`
	ErrorMessage    string  `json:"errorMessage,omitempty"`
	RemoteIP        string  `json:"remoteIP,omitempty"`
	RedirectURL     string  `json:"redirectURL,omitempty"`
	SSLVerifyResult int     `json:"sslVerifyResult,omitempty"`
	TimeTotal       float64 `json:"timeTotalSeconds,omitempty"`
	// TimeToFirstByte is curl's time_starttransfer: how long until the
	// first byte of the answer (a cold start's wait).
	TimeToFirstByte float64 `json:"timeToFirstByteSeconds,omitempty"`
	// Body is the start of the response body, made printable.
	Body string `json:"body,omitempty"`
}
