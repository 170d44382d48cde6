package opeaistio

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/harness"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

// enrollmentFeature: chatqna carries the mode's label and its pods are in
// the mesh (a sidecar, or ztunnel's redirection), since STRICT means
// nothing for workloads outside it.
var enrollmentFeature = harness.Feature{
	Name: "mesh-enrollment", Kind: "premise", Manifests: []string{"opeaistio/clients.yaml"},
	Body: func(r *harness.Run, name string, b *features.FeatureBuilder) *features.FeatureBuilder {
		return b.
			Assess("namespace-labelled", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
				r.Check(ctx, t, name+"/namespace", install.CheckEnrolled(ctx, r.Kube, ChatQnANamespace, r.Opts.Mode))
				return ctx
			}).
			Assess("chatqna-nginx-in-mesh", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
				r.Check(ctx, t, name+"/pods", podsEnrolled(ctx, r, "app="+ChatQnANginx, r.Opts.Mode, r.Opts.Timeouts.ReadyTimeout))
				return ctx
			}).
			Assess("inside-client-in-mesh", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
				r.Check(ctx, t, name+"/inside-client", podsEnrolled(ctx, r, "app=sleep", r.Opts.Mode, r.Opts.Timeouts.ReadyTimeout))
				return ctx
			})
	},
}

func podsEnrolled(ctx context.Context, r *harness.Run, selector string, mode dataplane.Mode, limit time.Duration) error {
	if mode == dataplane.Sidecar {
		return ready.PodsWithContainer(ctx, r.Kube, ChatQnANamespace, selector, "istio-proxy", limit)
	}
	// Polled: istio-cni marks a pod "pending" before "enabled".
	if err := ready.PodsAnnotated(ctx, r.Kube, ChatQnANamespace, selector, install.AmbientRedirected, "enabled", limit); err != nil {
		return fmt.Errorf("istio-cni did not redirect the pods to ztunnel: %w", err)
	}
	return nil
}
