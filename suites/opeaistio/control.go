package opeaistio

import (
	"context"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// strictControlFeature proves the refusal is STRICT mTLS: without the
// PeerAuthentication the outside client gets 200; with it restored, it is
// refused again.
var strictControlFeature = harness.Control(harness.Feature{Name: "strict-control", Applies: options.Corrected},
	[]harness.PolicyFixture{{File: "opeaistio/istio-mtls-strict.yaml", Kind: "PeerAuthentication", Name: "default"}},
	func(options.Options) matrix.Matrix { return StrictControl() },
	func(o options.Options) matrix.Matrix {
		return IngressAndMTLS(o.Mode, Gateway{}).Only("opea-strict-restored", "outside-mesh-to-chatqna-nginx")
	})

// cleanupFeature is the document's cleanup, corrected: it deletes the
// gateway, the certificate and the PeerAuthentication (the document says
// "apply" for the last one where it means delete), and checks they are gone.
var cleanupFeature = harness.Feature{
	Name: "cleanup", Kind: harness.KindCleanup, Manifests: cleanupFiles, Applies: options.Corrected,
	Checks: deletions(cleanupFiles),
}

// deletions delete each file's objects and check they are gone, one check
// per file, named after it.
func deletions(files []string) []harness.Check {
	var out []harness.Check
	for _, file := range files {
		out = append(out, harness.Check{Name: file, Run: func(ctx context.Context, e *harness.Env) error {
			objs, err := fixtures.Load(file)
			if err != nil {
				return err
			}
			if err := e.Apply.Delete(ctx, objs...); err != nil {
				return err
			}
			return gone(ctx, e, objs)
		}})
	}
	return out
}

// cleanupFiles are the document's resources the cleanup deletes.
var cleanupFiles = []string{"opeaistio/istio-gateway-and-virtual-service.yaml", "opeaistio/istio-gateway-ca-and-cert.yaml", StrictFixture}

// StrictFixture is the document's istio-mtls-strict.yaml: the STRICT
// PeerAuthentication in chatqna.
const StrictFixture = "opeaistio/istio-mtls-strict.yaml"
