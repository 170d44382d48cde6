package opeaistio

import (
	"context"

	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/options"
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
	return install.PodsEnrolled(ctx, e.Kube, ChatQnANamespace, selector, e.Mode, e.Opts.Timeouts.ReadyTimeout)
}
