package harness

import (
	"context"
	"time"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/secure-inference/mesh-conformance/tests/apply"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

// Env is what setup steps and features are handed once the cluster exists:
// its clients, the applier and installer, the options and the mode. It is
// read-only for them: a step changes the cluster, never the run, so nothing
// a suite declares is bound late to the run's state. The harness builds it
// after provisioning (provision); steps and features never see a Run.
type Env struct {
	// Opts are the run's options, the suite's own checked.
	Opts options.Options
	// Mode is the data-plane mode the run checks.
	Mode dataplane.Mode
	// Kube, Istio and Apply talk to the run's cluster.
	Kube  kubernetes.Interface
	Istio istioclient.Interface
	Apply *apply.Applier
	// Installer installs the components the plan says to install.
	Installer *install.Installer

	run  *Run
	logf func(format string, args ...any)
}

// NewEnv is an Env outside any run, for a test that runs a suite's own
// steps and checks, unmodified, on a cluster of its own (the lab's real
// Knative and KServe controllers): the plan adds every component, and
// progress and the steps' setup checks go to logf.
func NewEnv(o options.Options, mode dataplane.Mode, kube kubernetes.Interface, istio istioclient.Interface, a *apply.Applier, in *install.Installer,
	logf func(format string, args ...any)) *Env {
	return &Env{Opts: o, Mode: mode, Kube: kube, Istio: istio, Apply: a, Installer: in, logf: logf}
}

// Adds tells whether the plan installs a part of a component that is not
// on the cluster yet (see Run.Adds).
func (e *Env) Adds(component string) bool {
	if e.run == nil {
		return true
	}
	return e.run.Adds(component)
}

// ApplyReady applies objects (server-side) and waits, within limit for
// them all (applied together, they progress together, and the run's budget
// counts the limit once), for every one's Ready condition:
// InferenceServices, Certificates.
func (e *Env) ApplyReady(ctx context.Context, objs []*unstructured.Unstructured, limit time.Duration) error {
	if err := e.Apply.Apply(ctx, objs...); err != nil {
		return err
	}
	deadline := time.Now().Add(limit)
	for _, o := range objs {
		limit := max(time.Until(deadline), time.Second)
		ri, err := e.Apply.Resource(o)
		if err != nil {
			return err
		}
		if err := ready.Condition(ctx, ri, o.GetName(), "Ready", limit); err != nil {
			return err
		}
	}
	return nil
}

// SetupCheck records a check of the suite's setup, setup/<name>, beside
// the steps' own: what a step found that does not fail it (values the
// installer scaled to zero).
func (e *Env) SetupCheck(name string, err error) {
	if e.run == nil {
		e.Logf("setup/%s: %v", name, err)
		return
	}
	e.run.Report.Check(e.run.Suite, "setup/"+name, err)
}

// Logf prints progress to the test output, secrets scrubbed.
func (e *Env) Logf(format string, args ...any) {
	if e.run == nil {
		e.logf(format, args...)
		return
	}
	e.run.Logf(format, args...)
}

// env is the run's Env; valid once provision has built the clients.
func (r *Run) env() *Env {
	return &Env{Opts: r.Opts, Mode: r.Opts.Mode, Kube: r.Kube, Istio: r.Istio, Apply: r.Apply, Installer: r.Installer, run: r}
}
