package opeaistio

import (
	"context"
	"testing"

	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/fixtures"
)

// strictControlFeature proves the refusal is STRICT mTLS: without the
// PeerAuthentication the outside client gets 200; with it restored, it is
// refused again.
var strictControlFeature = harness.Control(harness.Feature{Name: "strict-control"},
	[]harness.PolicyFixture{{File: "opeaistio/istio-mtls-strict.yaml", Kind: "PeerAuthentication", Name: "default"}},
	func(*harness.Run) matrix.Matrix { return StrictControl() },
	func(r *harness.Run) matrix.Matrix {
		return IngressAndMTLS(r.Opts.Mode, Gateway{}).Only("opea-strict-restored", "outside-mesh-to-chatqna-nginx")
	})

// cleanupFeature is the document's cleanup, corrected: it deletes the
// gateway, the certificate and the PeerAuthentication (the document says
// "apply" for the last one where it means delete), and checks they are gone.
var cleanupFeature = harness.Feature{
	Name: "cleanup", Kind: "cleanup", Manifests: cleanupFiles,
	Body: func(r *harness.Run, name string, b *features.FeatureBuilder) *features.FeatureBuilder {
		return b.
			Assess("documented-resources-deleted", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
				for _, f := range cleanupFiles {
					objs, err := fixtures.Load(f)
					if err != nil {
						r.Check(ctx, t, name+"/"+f, err)
						continue
					}
					if err := r.Apply.Delete(ctx, objs...); err != nil {
						r.Check(ctx, t, name+"/"+f, err)
						continue
					}
					r.Check(ctx, t, name+"/"+f, gone(ctx, r, objs))
				}
				return ctx
			})
	},
}

// cleanupFiles are the document's resources the cleanup deletes.
var cleanupFiles = []string{"opeaistio/istio-gateway-and-virtual-service.yaml", "opeaistio/istio-gateway-ca-and-cert.yaml", "opeaistio/istio-mtls-strict.yaml"}
