package kservemesh

import (
	"context"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/tests/cases"
)

// isolationFeature is the document's matrix: from user1 both models answer;
// from default sklearn-iris is refused with 403 and sklearn-iris-burst
// answers through the activator (the documented limitation).
func isolationFeature() features.Feature {
	return features.New("namespace-isolation").WithLabel("suite", suite).WithLabel("kind", "matrix").
		Assess("matrix", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run.Matrix(ctx, t, cases.KServeIsolation())
			return ctx
		}).Feature()
}

// mtlsIdentityFeature: an allowed in-mesh call carries the caller's SPIFFE
// identity, so it was mTLS.
func mtlsIdentityFeature() features.Feature {
	return features.New("mtls-identity").WithLabel("suite", suite).WithLabel("kind", "matrix").
		Assess("xfcc-carries-caller-identity", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run.Matrix(ctx, t, cases.KServeMTLSIdentity())
			return ctx
		}).Feature()
}
