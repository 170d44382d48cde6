package harness

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"

	"github.com/secure-inference/mesh-conformance/tests/bypass"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/mesh"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/probe"
	"github.com/secure-inference/mesh-conformance/tests/probe/probetest"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// The features of the facts child (factsChild), declared as a suite
// declares them: one matrix function for the run and the plan.
var (
	factsRead = Feature{Name: "facts-read", Kind: KindMatrix, Matrices: func(ctx context.Context, _ options.Options, f Facts) ([]matrix.Matrix, error) {
		td, err := f.TrustDomain(ctx)
		if err != nil {
			return nil, err
		}
		ip, err := f.ClusterIP(ctx, "gw", "gateway")
		if err != nil {
			return nil, err
		}
		return []matrix.Matrix{{Name: "identity", Cells: []matrix.Cell{{Name: "user1-to-gateway", Client: factsClient,
			Request: probe.Request{URL: "http://" + ip + "/headers"}, Expect: matrix.Expect(matrix.Allowed).WithBody("URI=spiffe://" + td + "/ns/user1/sa/sleep")}}}}, nil
	}}
	factsMissing = Feature{Name: "facts-missing", Kind: KindMatrix, Matrices: func(ctx context.Context, _ options.Options, f Facts) ([]matrix.Matrix, error) {
		pem, err := f.Certificate(ctx, "gw", "absent")
		if err != nil {
			return nil, err
		}
		return []matrix.Matrix{{Name: "never-built", Cells: []matrix.Cell{{Name: pem, Client: factsClient}}}}, nil
	}}
	manifestMissing = Feature{Name: "manifest-missing", Kind: KindMatrix, Manifests: []string{"kservemesh/auth.yaml", "kservemesh/no-such-file.yaml"},
		Matrices: Fixed(matrix.Matrix{Name: "never-run", Cells: []matrix.Cell{{Name: "c", Client: factsClient, Request: probe.Request{URL: "http://10.0.0.9/"}}}})}
	factsClient = matrix.Client{Name: "user1", Namespace: "user1", Selector: "app=sleep", Container: "sleep"}
)

// stubFacts are given facts, the ones factsChild's cluster holds.
type stubFacts struct{ trustDomain, clusterIP string }

func (s stubFacts) TrustDomain(context.Context) (string, error) { return s.trustDomain, nil }
func (s stubFacts) ClusterIP(context.Context, string, string) (string, error) {
	return s.clusterIP, nil
}
func (stubFacts) Certificate(context.Context, string, string) (string, error) {
	return "", errors.New("none")
}
func (stubFacts) HostAddress(context.Context, int) (string, error) { return "", errors.New("none") }
func (stubFacts) Pods(context.Context, bypass.Target) ([]bypass.Pod, error) {
	return nil, errors.New("none")
}

// cellsOf are a matrix's cells as the report and the plan name them.
func cellsOf(m matrix.Matrix) []reportapi.Cell {
	var out []reportapi.Cell
	for _, c := range m.Cells {
		out = append(out, reportapi.Cell{Name: c.Name, Client: c.Client.Name, Request: c.Request.String(), Expected: c.Expect.String()})
	}
	return out
}

// A run and a dry run of a feature take their cells from the same
// function: the run's recorded cells are the function's given the
// cluster's facts, and the plan shows the same cells with placeholders
// where the facts go. A fact the run cannot read fails the check named
// after it and runs no matrix; so does a missing manifest (its check
// <feature>/manifests), which the plan reports too.
func TestRunAndDryRunShareTheMatrixFunction(t *testing.T) {
	rep := runChild(t, "facts")
	s := rep.Suites[0]
	byFeature := map[string][]reportapi.Matrix{}
	for _, m := range s.Matrices {
		byFeature[m.Feature] = append(byFeature[m.Feature], m)
	}
	given, err := factsRead.Matrices(context.Background(), options.Defaults(), stubFacts{"td.example", "10.96.0.7"})
	require.NoError(t, err)
	require.Len(t, byFeature["facts-read"], 1)
	var ran []reportapi.Cell
	for _, c := range byFeature["facts-read"][0].Cells {
		ran = append(ran, reportapi.Cell{Name: c.Name, Client: c.Client, Request: c.Request, Expected: c.Expected})
		assert.Equal(t, reportapi.Success, c.Result)
	}
	assert.Equal(t, cellsOf(given[0]), ran)
	assert.Empty(t, byFeature["facts-missing"], "no matrix, not an empty one")
	assert.Empty(t, byFeature["manifest-missing"])

	checks := map[string]reportapi.Check{}
	for _, c := range s.Checks {
		checks[c.Name] = c
	}
	assert.Equal(t, reportapi.Failure, checks["facts-missing/certificate"].Result)
	assert.Contains(t, checks["facts-missing/certificate"].Message, "secret gw/absent")
	assert.Equal(t, "facts-missing", checks["facts-missing/certificate"].Feature)
	assert.Equal(t, reportapi.Failure, checks["manifest-missing/manifests"].Result)
	assert.Contains(t, checks["manifest-missing/manifests"].Message, "manifest fixtures/kservemesh/no-such-file.yaml does not exist")
	results := map[string]reportapi.Result{}
	for _, f := range s.Features {
		results[f.Name] = f.Result
	}
	assert.Equal(t, map[string]reportapi.Result{"facts-read": reportapi.Success, "facts-missing": reportapi.Failure,
		"manifest-missing": reportapi.Failure}, results)

	var plan bytes.Buffer
	r := &Run{Suite: "s", Opts: options.Defaults()}
	(&Suite{Name: "s", Features: []Feature{factsRead, manifestMissing}}).plan(&plan, r, nil)
	assert.Contains(t, plan.String(), "user1-to-gateway  user1  GET http://<ClusterIP of Service gw/gateway>/headers  allowed (2xx), body has \"URI=spiffe://<trust domain of the istio ConfigMap>/ns/user1/sa/sleep\"")
	assert.Contains(t, plan.String(), "- manifest-missing [core, matrix]\n  manifests: kservemesh/auth.yaml, kservemesh/no-such-file.yaml\n"+
		"  cannot run: check manifest-missing/manifests fails: manifest fixtures/kservemesh/no-such-file.yaml does not exist\n")
	assert.EqualError(t, manifestMissing.Validate(), "manifest-missing/manifests: manifest fixtures/kservemesh/no-such-file.yaml does not exist")
	assert.NoError(t, factsRead.Validate())
}

// factsChild runs the facts features against a fake cluster that holds
// the trust domain and the gateway's Service, but not the secret.
func factsChild(t *testing.T, r *Run) {
	r.Config = envconf.New() // every feature selected
	r.testenv = env.NewWithConfig(r.Config)
	meshConfig := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: mesh.ConfigMap, Namespace: mesh.ConfigNamespace},
		Data: map[string]string{mesh.ConfigKey: "trustDomain: td.example\n"}}
	gateway := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "gateway", Namespace: "gw"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.7"}}
	r.Kube = fake.NewSimpleClientset(meshConfig, gateway, readyClient("user1"))
	r.Exec = probetest.New(map[string][]probetest.Answer{
		"user1 http://10.96.0.7/headers": {{Code: 200, Body: `{"headers":{"X-Forwarded-Client-Cert":"By=...;URI=spiffe://td.example/ns/user1/sa/sleep"}}`}},
	})
	r.Opts.Timeouts.RoundInterval, r.Opts.Timeouts.RequiredConsecutiveSuccesses = time.Millisecond, 1
	r.Test(t, factsRead, factsMissing, manifestMissing)
}
