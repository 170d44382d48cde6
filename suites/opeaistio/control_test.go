package opeaistio

import (
	"context"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/cases"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
)

// strictControlFeature proves the refusal is STRICT mTLS: without the
// PeerAuthentication the outside client gets 200; with it restored, it is
// refused again.
func strictControlFeature() features.Feature {
	strict := fixtures.MustLoad("opeaistio/istio-mtls-strict.yaml")
	return features.New("strict-control").WithLabel("suite", suite).WithLabel("kind", "control").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run.Check(t, "strict-control/remove", run.Apply.Delete(ctx, strict...))
			return ctx
		}).
		Assess("outside-client-allowed-without-strict", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run.Matrix(ctx, t, cases.OPEAStrictControl())
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run.Check(t, "strict-control/restore", run.Apply.Apply(ctx, strict...))
			restored := matrix.Matrix{Name: "opea-strict-restored"}
			for _, c := range cases.OPEAIngressAndMTLS(run.Opts.Mode, cases.Gateway{}).Cells {
				if c.Name == "outside-mesh-to-chatqna-nginx" {
					restored.Cells = append(restored.Cells, c)
				}
			}
			run.Matrix(ctx, t, restored)
			return ctx
		}).Feature()
}

// cleanupFeature is the document's cleanup, corrected: it deletes the
// gateway, the certificate and the PeerAuthentication (the document says
// "apply" for the last one where it means delete), and checks they are gone.
func cleanupFeature() features.Feature {
	files := []string{"opeaistio/istio-gateway-and-virtual-service.yaml", "opeaistio/istio-gateway-ca-and-cert.yaml", "opeaistio/istio-mtls-strict.yaml"}
	return features.New("cleanup").WithLabel("suite", suite).WithLabel("kind", "cleanup").
		Assess("documented-resources-deleted", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			for _, f := range files {
				objs := fixtures.MustLoad(f)
				if err := run.Apply.Delete(ctx, objs...); err != nil {
					run.Check(t, "cleanup/"+f, err)
					continue
				}
				run.Check(t, "cleanup/"+f, gone(ctx, objs))
			}
			return ctx
		}).Feature()
}
