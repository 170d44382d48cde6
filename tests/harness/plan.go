package harness

import (
	"context"

	"github.com/secure-inference/mesh-conformance/tests/capacity"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/detect"
	"github.com/secure-inference/mesh-conformance/tests/install"
)

// WillInstall tells whether the run's plan installs a component, or any
// part of it (false before the cluster is provisioned, and for what was
// found in place).
func (r *Run) WillInstall(component string) bool {
	for _, s := range r.plan {
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
	for _, s := range r.plan {
		if detect.ComponentOf(s.Component) == component && s.Install && !s.Installed {
			return true
		}
	}
	return false
}

// NeedsIstio declares Istio's parts for a mode (istiod and the suite's
// gateway; istio-cni and ztunnel in ambient mode), each detected and
// planned on its own.
func (r *Run) NeedsIstio(mode dataplane.Mode, gateway install.Gateway) {
	r.gateway = detect.Workload{Namespace: gateway.Namespace, Name: gateway.Name}
	r.needs = append(r.needs, detect.IstioParts(mode == dataplane.Ambient)...)
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

// Needs declares the components the suite installs, so the run can state
// its plan (what it found, what it will install) before touching anything.
func (r *Run) Needs(components ...string) { r.needs = append(r.needs, components...) }
