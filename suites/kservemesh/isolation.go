package kservemesh

import (
	"context"

	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// isolationFeature is the document's matrix with the current upstream
// page's user2: from user1 both models answer; from user2 and default
// sklearn-iris is refused with 403 and sklearn-iris-burst answers through
// the activator (the documented limitation), or under the hardened profile
// is refused too, at the activator (IsolationOf).
var isolationFeature = harness.Feature{
	Name: "namespace-isolation", Kind: harness.KindMatrix, Applies: options.Corrected, Manifests: []string{"kservemesh/auth.yaml", "kservemesh/inferenceservices.yaml", "kservemesh/clients.yaml"},
	Matrices: func(_ context.Context, o options.Options, _ harness.Facts) ([]matrix.Matrix, error) {
		return []matrix.Matrix{IsolationOf(o.KServeProfile)}, nil
	},
}

// strictMTLSFeature: a plaintext client straight to a user1 workload is
// reset, which only STRICT mTLS does.
var strictMTLSFeature = harness.Feature{
	Name: "strict-mtls", Kind: harness.KindMatrix, Applies: options.Corrected, Manifests: []string{"kservemesh/auth.yaml", "kservemesh/httpbin.yaml", "kservemesh/clients.yaml"},
	Matrices: harness.Fixed(StrictMTLS()),
}

// mtlsIdentityFeature: an allowed in-mesh call carries the caller's SPIFFE
// identity in the mesh's own trust domain, so it was mTLS. The trust
// domain is the cluster's (a dry run shows a placeholder); failing to read
// it fails the check mtls-identity/trust-domain.
var mtlsIdentityFeature = harness.Feature{
	Name: "mtls-identity", Kind: harness.KindMatrix, Applies: options.Corrected, Manifests: []string{"kservemesh/httpbin.yaml", "kservemesh/clients.yaml"},
	Matrices: func(ctx context.Context, _ options.Options, f harness.Facts) ([]matrix.Matrix, error) {
		td, err := f.TrustDomain(ctx)
		if err != nil {
			return nil, err
		}
		return []matrix.Matrix{MTLSIdentity(td)}, nil
	},
}
