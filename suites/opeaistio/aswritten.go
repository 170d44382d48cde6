package opeaistio

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/apply"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// The as-written run (--setup=as-written, ambient mode): opea-istio.md's
// steps as it prints them. Nothing labels chatqna for the mesh (the step
// enroll-chatqna is left out), so ztunnel never captures ChatQnA and the
// STRICT PeerAuthentication enforces nothing; the document's cleanup
// "applies" istio-mtls-strict.yaml, leaving it in place. What the
// corrected run proves about the mesh (bypass-paths, strict-control,
// fail-closed) has nothing to prove here and does not apply; the report
// marks the run, and the summary keeps its results apart.

// checkAsWritten: the document configures ambient mode only, so it is
// run as written in ambient mode only.
func checkAsWritten(o options.Options) error {
	if options.AsWritten(o) && o.Mode != dataplane.Ambient {
		return fmt.Errorf("--setup=%s: opea-istio.md configures ambient mode only; run it as written with --mode=%s", options.SetupAsWritten, dataplane.Ambient)
	}
	return nil
}

// NotEnrolledNote says why, as written, the outside client reaches ChatQnA.
const NotEnrolledNote = "as written: nothing labels chatqna istio.io/dataplane-mode=ambient, so ztunnel never captures its pods " +
	"and the STRICT PeerAuthentication enforces nothing: the client outside the mesh reaches chatqna-nginx"

// IngressAndMTLSAsWritten is the ingress matrix as the document leaves
// it: the same cells, but the client outside the mesh is served.
func IngressAndMTLSAsWritten(m matrix.Matrix) matrix.Matrix {
	cells := append([]matrix.Cell(nil), m.Cells...)
	for i, c := range cells {
		if c.Name == "outside-mesh-to-chatqna-nginx" {
			cells[i].Expect = matrix.Expect(matrix.Allowed).WithNote(NotEnrolledNote)
		}
	}
	m.Cells = cells
	return m
}

// notEnrolledFeature is the as-written run's premise: chatqna is not in
// the mesh, namespace and pods, as the document leaves it. It fails when
// the cluster has chatqna enrolled (a corrected run's label left on a kept
// cluster): then the run is not the document as written.
var notEnrolledFeature = harness.Feature{
	Name: "not-enrolled-as-written", Kind: harness.KindPremise, Applies: options.AsWritten,
	Checks: []harness.Check{
		{Name: "namespace", Run: func(ctx context.Context, e *harness.Env) error {
			if err := install.CheckEnrolled(ctx, e.Kube, ChatQnANamespace, e.Mode); err == nil {
				return fmt.Errorf("namespace %s is enrolled in %s mode, which the document never does: this run is not the document as written "+
					"(remove the label, or the namespace, left by a corrected run)", ChatQnANamespace, e.Mode)
			}
			return nil
		}},
		{Name: "pods", Run: func(ctx context.Context, e *harness.Env) error {
			pods, err := e.Kube.CoreV1().Pods(ChatQnANamespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			var captured []string
			for _, p := range pods.Items {
				if p.Annotations[install.AmbientRedirected] == "enabled" {
					captured = append(captured, p.Name)
				}
			}
			if len(captured) > 0 {
				return fmt.Errorf("pods of %s redirected to ztunnel (%s %q): %v; as written, none is", ChatQnANamespace, install.AmbientRedirected, "enabled", captured)
			}
			if len(pods.Items) == 0 {
				return errors.New("no pod in " + ChatQnANamespace + ": nothing to find outside the mesh")
			}
			return nil
		}},
	},
}

// cleanupAsWrittenFeature is the document's cleanup as printed: it
// deletes the gateway and the certificate, and "applies"
// istio-mtls-strict.yaml, so the PeerAuthentication stays.
var cleanupAsWrittenFeature = harness.Feature{
	Name: "cleanup-as-written", Kind: harness.KindCleanup, Manifests: cleanupFiles, Applies: options.AsWritten,
	Checks: append(deletions(cleanupFiles[:2]), harness.Check{Name: "istio-mtls-strict.yaml-applied-not-deleted", Run: func(ctx context.Context, e *harness.Env) error {
		if err := fixtures.Apply(ctx, e.Apply, StrictFixture); err != nil {
			return err
		}
		objs, err := fixtures.Load(StrictFixture)
		if err != nil {
			return err
		}
		// The document's finding: its cleanup leaves STRICT in place.
		for _, o := range objs {
			ri, err := e.Apply.Resource(o)
			if err == nil {
				_, err = ri.Get(ctx, o.GetName(), metav1.GetOptions{})
			}
			if err != nil {
				return fmt.Errorf("the document's cleanup applies %s, which should leave %s in place: %w", StrictFixture, apply.Describe(o), err)
			}
		}
		return nil
	}}),
}
