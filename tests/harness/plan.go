package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secure-inference/mesh-conformance/tests/capacity"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/detect"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// WillInstall tells whether the run's plan installs a component, or any
// part of it (false before the cluster is provisioned, and for what was
// found in place).
func (r *Run) WillInstall(component string) bool {
	for _, s := range r.installPlan {
		if detect.ComponentOf(s.Component) == component && s.Install {
			return true
		}
	}
	return false
}

// Adds tells whether the plan installs a part of a component that is not
// there yet (what an upgrade in place adds to the scheduler's books is
// already counted in what the nodes have requested).
func (r *Run) Adds(component string) bool {
	for _, s := range r.installPlan {
		if detect.ComponentOf(s.Component) == component && s.Install && !s.Installed {
			return true
		}
	}
	return false
}

// Capacity is a setup step that stops the run before anything is installed
// when the cluster's schedulable nodes cannot hold what the suite will
// request (need is called once the plan is known: Env.Adds).
func Capacity(need func(ctx context.Context, e *Env) []capacity.Request) Step {
	return Step{Name: "capacity", Run: func(ctx context.Context, e *Env) error {
		free, err := capacity.Measure(ctx, e.Kube)
		if err != nil {
			return err
		}
		n := need(ctx, e)
		cpu, mem := capacity.Sum(n)
		e.Logf("capacity: the suite will request %dm CPU / %dMi; %d schedulable node(s): %dm / %dMi allocatable, %dm / %dMi already requested",
			cpu.MilliValue(), mem.Value()>>20, free.Nodes, free.AllocatableCPU.MilliValue(), free.AllocatableMemory.Value()>>20,
			free.RequestedCPU.MilliValue(), free.RequestedMemory.Value()>>20)
		return capacity.Check(free, n)
	}}
}

// ComponentCapacity is the Capacity step of a suite that installs
// components and then runs its workloads in namespace: the requests of
// the components the run adds (install.Requests for mode and gateway),
// and the workloads' unless namespace already has pods (a kept cluster, a
// rerun: what runs is in the nodes' requests already).
func ComponentCapacity(components []string, mode dataplane.Mode, gateway install.Gateway, namespace string, workloads func() []capacity.Request) Step {
	return Capacity(func(ctx context.Context, e *Env) []capacity.Request {
		var need []capacity.Request
		for _, c := range components {
			if e.Adds(c) {
				need = append(need, install.Requests(c, mode, gateway)...)
			}
		}
		if pods, err := e.Kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{}); err == nil && len(pods.Items) > 0 {
			return need
		}
		return append(need, workloads()...)
	})
}

// plan prints what a run would do, as the report would name it: the setup
// steps, then the features (planFeatures). It returns the declaration
// errors found on the way (what Feature.declared finds, or a
// matrix function's error), joined.
func (s *Suite) plan(w io.Writer, r *Run, steps []Step) error {
	mode := "no mesh"
	if r.Opts.Mode != "" && len(s.Modes) > 0 {
		mode = string(r.Opts.Mode) + " mode"
	}
	if p := s.profile(r.Opts); p != "" {
		mode += ", " + p + " profile"
	}
	if options.AsWritten(r.Opts) {
		mode += ", the document as written: findings, not conformance verdicts"
	}
	fmt.Fprintf(w, "%s (%s): dry run, nothing is touched\n\n", s.Name, mode)
	fmt.Fprintf(w, "time: a real run can take %s\n%s\n", r.budget, timeoutVerdict(s.Name, testTimeout(), r.budget))
	// Above the setup steps: the plan goldens start there.
	planDeviations(w, s.deviations(r.Opts, steps))
	fmt.Fprint(w, "\nsetup steps:\n")
	for i, st := range steps {
		what := ""
		if st.Component != "" {
			what = " (installs " + st.Component + " unless the cluster has it)"
		}
		fmt.Fprintf(w, "  %2d. %s%s\n", i+1, st.Name, what)
	}
	s.planFeatures(w, r)
	fmt.Fprintln(w)
	return errors.Join(r.planErrs...)
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}
