package kservemesh

import (
	"context"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/tests/cases"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/mesh"
)

// isolationFeature is the document's matrix with the current upstream
// page's user2: from user1 both models answer; from user2 and default
// sklearn-iris is refused with 403 and sklearn-iris-burst answers through
// the activator (the documented limitation).
func isolationFeature() features.Feature {
	return run.MatrixFeature("namespace-isolation", "matrix", func(context.Context, *testing.T) matrix.Matrix {
		return cases.KServeIsolation()
	})
}

// strictMTLSFeature: a plaintext client straight to a user1 workload is
// reset, which only STRICT mTLS does.
func strictMTLSFeature() features.Feature {
	return run.MatrixFeature("strict-mtls", "plaintext-is-reset", func(context.Context, *testing.T) matrix.Matrix {
		return cases.KServeStrictMTLS()
	})
}

// mtlsIdentityFeature: an allowed in-mesh call carries the caller's SPIFFE
// identity in the mesh's own trust domain, so it was mTLS.
func mtlsIdentityFeature() features.Feature {
	return run.MatrixFeature("mtls-identity", "xfcc-carries-caller-identity", func(ctx context.Context, t *testing.T) matrix.Matrix {
		td, err := mesh.TrustDomain(ctx, run.Kube)
		run.Check(ctx, t, "mtls-identity/trust-domain", err)
		if err != nil {
			return matrix.Matrix{Name: "kserve-mtls-identity"} // refused as empty: the check above says why
		}
		return cases.KServeMTLSIdentity(td)
	})
}
