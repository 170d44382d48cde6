package opeaistio

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

// enrollmentFeature: chatqna carries the mode's label and its pods are in
// the mesh (a sidecar, or ztunnel's redirection), since STRICT means
// nothing for workloads outside it.
func enrollmentFeature() features.Feature {
	return run.Feature("mesh-enrollment", "premise").
		Assess("namespace-labelled", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run.Check(ctx, t, "mesh-enrollment/namespace", install.CheckEnrolled(ctx, run.Kube, install.ChatQnANamespace, run.Opts.Mode))
			return ctx
		}).
		Assess("chatqna-nginx-in-mesh", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run.Check(ctx, t, "mesh-enrollment/pods", podsEnrolled(ctx, "app="+install.ChatQnANginx, run.Opts.Mode, run.Opts.Timeouts.ReadyTimeout))
			return ctx
		}).
		Assess("inside-client-in-mesh", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run.Check(ctx, t, "mesh-enrollment/inside-client", podsEnrolled(ctx, "app=sleep", run.Opts.Mode, run.Opts.Timeouts.ReadyTimeout))
			return ctx
		}).Feature()
}

func podsEnrolled(ctx context.Context, selector string, mode options.Mode, limit time.Duration) error {
	if mode == options.ModeSidecar {
		return ready.PodsWithContainer(ctx, run.Kube, install.ChatQnANamespace, selector, "istio-proxy", limit)
	}
	// Polled: istio-cni marks a pod "pending" before "enabled".
	if err := ready.PodsAnnotated(ctx, run.Kube, install.ChatQnANamespace, selector, install.AmbientRedirected, "enabled", limit); err != nil {
		return fmt.Errorf("istio-cni did not redirect the pods to ztunnel: %w", err)
	}
	return nil
}
