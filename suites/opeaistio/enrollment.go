package opeaistio

import (
	"context"
	"fmt"

	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

// enrollmentFeature: chatqna carries the mode's label and its pods are in
// the mesh (a sidecar, or ztunnel's redirection), since STRICT means
// nothing for workloads outside it.
var enrollmentFeature = harness.Feature{
	Name: "mesh-enrollment", Kind: harness.KindPremise, Manifests: []string{"opeaistio/clients.yaml"}, Applies: options.Corrected,
	Checks: []harness.Check{
		{Name: "namespace", Run: func(ctx context.Context, e *harness.Env) error {
			return install.CheckEnrolled(ctx, e.Kube, ChatQnANamespace, e.Mode)
		}},
		{Name: "pods", Run: func(ctx context.Context, e *harness.Env) error {
			return podsEnrolled(ctx, e, "app="+ChatQnANginx)
		}},
		{Name: "inside-client", Run: func(ctx context.Context, e *harness.Env) error { return podsEnrolled(ctx, e, "app=sleep") }},
	},
}

// podsEnrolled checks that chatqna's pods of a selector are in the mesh: a
// sidecar each, or ztunnel's redirection.
func podsEnrolled(ctx context.Context, e *harness.Env, selector string) error {
	limit := e.Opts.Timeouts.ReadyTimeout
	if e.Mode == dataplane.Sidecar {
		return ready.PodsWithContainer(ctx, e.Kube, ChatQnANamespace, selector, "istio-proxy", limit)
	}
	// Polled: istio-cni marks a pod "pending" before "enabled".
	if err := ready.PodsAnnotated(ctx, e.Kube, ChatQnANamespace, selector, install.AmbientRedirected, "enabled", limit); err != nil {
		return fmt.Errorf("istio-cni did not redirect the pods to ztunnel: %w", err)
	}
	return nil
}
