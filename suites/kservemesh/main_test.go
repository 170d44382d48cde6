// Package kservemesh reproduces kserve-servicemesh.md ("Deploy
// InferenceService in ServiceMesh mode") with the corrections of FACTS.md,
// and proves with traffic that the cluster enforces it.
//
//	go test ./suites/kservemesh/ -args --dry-run    # list the features
//	go test ./suites/kservemesh/                    # kind cluster, installs, checks
package kservemesh

import (
	"context"
	"fmt"
	"os"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/capacity"
	"github.com/secure-inference/mesh-conformance/tests/cases"
	"github.com/secure-inference/mesh-conformance/tests/detect"
	"github.com/secure-inference/mesh-conformance/tests/diagnostics"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/preflight"
	"github.com/secure-inference/mesh-conformance/tests/ready"
	"github.com/secure-inference/mesh-conformance/tests/versions"
)

const suite = "kservemesh"

var run *harness.Run

func TestMain(m *testing.M) {
	// kserve-servicemesh.md configures Istio sidecars only.
	run = harness.Setup(suite, versions.KServeMesh, options.ModeSidecar)
	run.AddDiagnostics(
		diagnostics.Extra{GVR: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, Namespace: install.KServeNamespace, Name: install.KServeConfigMap},
		diagnostics.Extra{GVR: install.ServerlessServices, Namespace: "user1"},
		diagnostics.Extra{GVR: schema.GroupVersionResource{Group: "serving.kserve.io", Version: "v1beta1", Resource: "inferenceservices"}, Namespace: "user1"},
	)
	run.DiagnoseNamespaces("user1", "user2", "default", install.KServeNamespace, install.KnativeNamespace, "istio-system")
	run.NeedsIstio(options.ModeSidecar, install.KServeGateway)
	run.Needs(detect.CertManager, detect.Knative, detect.KServe)
	in := func() *install.Installer { return run.Installer }
	t := run.Opts.Timeouts
	run.Env.Setup(
		// Stop before installing anything when the cluster cannot hold it.
		run.Capacity(func(ctx context.Context) []capacity.Request {
			// Only what is not there yet: what runs is in the nodes'
			// requests already (a kept cluster, a rerun).
			var need []capacity.Request
			for _, c := range []string{detect.Istio, detect.CertManager, detect.Knative, detect.KServe} {
				if run.Adds(c) {
					need = append(need, install.Requests(c, options.ModeSidecar, install.KServeGateway)...)
				}
			}
			if pods, err := run.Kube.CoreV1().Pods("user1").List(ctx, metav1.ListOptions{}); err == nil && len(pods.Items) > 0 {
				return need
			}
			return append(need, cases.KServeWorkloads(install.Sidecar)...)
		}),
		// Components, pinned to KServe v0.20's own dependency set.
		run.Step("baseline-workloads", preflight.Deploy(run)),
		run.Install(detect.Istio, "istio", func(ctx context.Context) error {
			return in().Istio(ctx, options.ModeSidecar, install.KServeGateway)
		}),
		run.Install(detect.CertManager, "cert-manager", func(ctx context.Context) error { return in().CertManager(ctx) }),
		run.Install(detect.Knative, "knative-operator", func(ctx context.Context) error { return in().KnativeOperator(ctx) }),
		run.Install(detect.Knative, "knative-serving", func(ctx context.Context) error {
			return in().KnativeServing(ctx, fixtures.MustLoad("kservemesh/knative-serving.yaml"))
		}),
		run.Install(detect.KServe, "kserve", func(ctx context.Context) error { return in().KServe(ctx) }),

		// The document's steps, in its order.
		run.Step("namespace-user1", func(ctx context.Context) error {
			return fixtures.Apply(ctx, run.Apply, "kservemesh/namespace.yaml")
		}),
		// The step itself checks that the activator's and autoscaler's new
		// pods carry istio-proxy (a premise repeating that check could not
		// fail): its result in the report is that premise.
		run.Step("knative-serving-sidecars", func(ctx context.Context) error { return in().KnativeSidecars(ctx) }),
		run.Step("auth", func(ctx context.Context) error { return fixtures.Apply(ctx, run.Apply, "kservemesh/auth.yaml") }),
		run.Step("disable-istio-virtual-host", func(ctx context.Context) error { return in().DisableIstioVirtualHost(ctx) }),
		run.Step("inferenceservices", func(ctx context.Context) error {
			// Premise: a runtime serves modelFormat sklearn, or the
			// InferenceServices could only time out NoSupportingRuntime.
			if err := install.CheckRuntime(ctx, run.Apply.Dynamic, install.SklearnRuntime); err != nil {
				return err
			}
			objs := append(fixtures.MustLoad("kservemesh/inferenceservices.yaml"), fixtures.MustLoad("kservemesh/inferenceservice-cold.yaml")...)
			if err := run.Apply.Apply(ctx, objs...); err != nil {
				return err
			}
			for _, o := range objs {
				ri, err := run.Apply.Resource(o)
				if err != nil {
					return err
				}
				// Its own limit: a new node pulls two large Python images
				// and the storage initializer downloads the model.
				if err := ready.Condition(ctx, ri, o.GetName(), "Ready", t.InferenceServiceReadyTimeout); err != nil {
					return err
				}
			}
			return nil
		}),
		run.Step("httpbin-and-clients", func(ctx context.Context) error {
			for _, f := range []string{"kservemesh/httpbin.yaml", "kservemesh/clients.yaml"} {
				if err := fixtures.Apply(ctx, run.Apply, f); err != nil {
					return err
				}
			}
			for _, ns := range []string{"user1", "user2", "default"} {
				if err := ready.Deployments(ctx, run.Kube, ns, "app in (sleep,httpbin)", t.ReadyTimeout); err != nil {
					return err
				}
			}
			// The cells mean what they say only if user1's and user2's
			// clients have sidecars (a 403 to a user2 client without one
			// would come through knative-local-gateway, as default's does)
			// and default's has none.
			for _, ns := range []string{"user1", "user2"} {
				if err := ready.PodsWithContainer(ctx, run.Kube, ns, "app=sleep", "istio-proxy", t.ReadyTimeout); err != nil {
					return fmt.Errorf("the %s client has no sidecar, so its cells would not test namespace isolation (is %s labelled for this Istio's injection, e.g. a revision label?): %w", ns, ns, err)
				}
			}
			return ready.NoPodWithContainer(ctx, run.Kube, "default", "istio-proxy", t.ReadyTimeout)
		}),
	)
	os.Exit(run.Env.Run(m))
}

// TestKServeMesh runs the features in order: premises first, then the
// matrices, then the controls that remove and restore the policy and the
// PeerAuthentication.
func TestKServeMesh(t *testing.T) {
	run.Test(t,
		preflight.Feature(run),
		virtualHostFeature(),
		activatorPremiseFeature(),
		isolationFeature(),
		strictMTLSFeature(),
		mtlsIdentityFeature(),
		policyControlFeature(),
		strictControlFeature(),
		coldStartFeature(),
	)
}
