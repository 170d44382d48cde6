package opeaistio

import (
	"context"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/cases"
)

// strictControlFeature proves the refusal is STRICT mTLS: without the
// PeerAuthentication the outside client gets 200; with it restored, it is
// refused again.
func strictControlFeature() features.Feature {
	return run.ControlFeature("strict-control", fixtures.MustLoad("opeaistio/istio-mtls-strict.yaml"), cases.OPEAStrictControl(),
		cases.OPEAIngressAndMTLS(run.Opts.Mode, cases.Gateway{}).Only("opea-strict-restored", "outside-mesh-to-chatqna-nginx"))
}

// cleanupFeature is the document's cleanup, corrected: it deletes the
// gateway, the certificate and the PeerAuthentication (the document says
// "apply" for the last one where it means delete), and checks they are gone.
func cleanupFeature() features.Feature {
	files := []string{"opeaistio/istio-gateway-and-virtual-service.yaml", "opeaistio/istio-gateway-ca-and-cert.yaml", "opeaistio/istio-mtls-strict.yaml"}
	return run.Feature("cleanup", "cleanup").
		Assess("documented-resources-deleted", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			for _, f := range files {
				objs := fixtures.MustLoad(f)
				if err := run.Apply.Delete(ctx, objs...); err != nil {
					run.Check(ctx, t, "cleanup/"+f, err)
					continue
				}
				run.Check(ctx, t, "cleanup/"+f, gone(ctx, objs))
			}
			return ctx
		}).Feature()
}
