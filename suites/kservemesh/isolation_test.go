package kservemesh

import (
	"context"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/tests/cases"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
)

// isolationFeature is the document's matrix: from user1 both models answer;
// from default sklearn-iris is refused with 403 and sklearn-iris-burst
// answers through the activator (the documented limitation).
func isolationFeature() features.Feature {
	return run.MatrixFeature("namespace-isolation", "matrix", func(context.Context, *testing.T) matrix.Matrix {
		return cases.KServeIsolation()
	})
}

// mtlsIdentityFeature: an allowed in-mesh call carries the caller's SPIFFE
// identity, so it was mTLS.
func mtlsIdentityFeature() features.Feature {
	return run.MatrixFeature("mtls-identity", "xfcc-carries-caller-identity", func(context.Context, *testing.T) matrix.Matrix {
		return cases.KServeMTLSIdentity()
	})
}
