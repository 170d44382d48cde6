package kservemesh

import (
	"context"
	"testing"

	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/mesh"
)

// isolationFeature is the document's matrix with the current upstream
// page's user2: from user1 both models answer; from user2 and default
// sklearn-iris is refused with 403 and sklearn-iris-burst answers through
// the activator (the documented limitation).
var isolationFeature = harness.Feature{
	Name: "namespace-isolation", Kind: "matrix", Manifests: []string{"kservemesh/auth.yaml", "kservemesh/inferenceservices.yaml", "kservemesh/clients.yaml"},
	Body:     harness.MatrixBody("matrix", func(context.Context, *testing.T, *harness.Run) matrix.Matrix { return Isolation() }),
	Matrices: func(*harness.Run) []matrix.Matrix { return []matrix.Matrix{Isolation()} },
}

// strictMTLSFeature: a plaintext client straight to a user1 workload is
// reset, which only STRICT mTLS does.
var strictMTLSFeature = harness.Feature{
	Name: "strict-mtls", Kind: "matrix", Manifests: []string{"kservemesh/auth.yaml", "kservemesh/httpbin.yaml", "kservemesh/clients.yaml"},
	Body:     harness.MatrixBody("plaintext-is-reset", func(context.Context, *testing.T, *harness.Run) matrix.Matrix { return StrictMTLS() }),
	Matrices: func(*harness.Run) []matrix.Matrix { return []matrix.Matrix{StrictMTLS()} },
}

// mtlsIdentityFeature: an allowed in-mesh call carries the caller's SPIFFE
// identity in the mesh's own trust domain, so it was mTLS.
var mtlsIdentityFeature = harness.Feature{
	Name: "mtls-identity", Kind: "matrix", Manifests: []string{"kservemesh/httpbin.yaml", "kservemesh/clients.yaml"},
	Body: harness.MatrixBody("xfcc-carries-caller-identity", func(ctx context.Context, t *testing.T, r *harness.Run) matrix.Matrix {
		td, err := mesh.TrustDomain(ctx, r.Kube)
		r.Check(ctx, t, "mtls-identity/trust-domain", err)
		if err != nil {
			return matrix.Matrix{Name: "kserve-mtls-identity"} // refused as empty: the check above says why
		}
		return MTLSIdentity(td)
	}),
	Matrices: func(*harness.Run) []matrix.Matrix {
		return []matrix.Matrix{MTLSIdentity("<trust domain of the istio ConfigMap>")}
	},
}
