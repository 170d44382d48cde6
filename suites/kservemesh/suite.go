// Package kservemesh reproduces kserve-servicemesh.md ("Deploy
// InferenceService in ServiceMesh mode") with the corrections of FACTS.md,
// and proves with traffic that the cluster enforces it.
//
// The suite is the value Suite; main_test.go names its run (harness.NewRun), and
// the lab runs its cells (cells.go) against stand-ins.
//
//	go test -tags e2e -v ./suites/kservemesh/ -args --dry-run   # the plan, no cluster
//	go test -tags e2e -v -timeout 6h ./suites/kservemesh/        # kind cluster, installs, checks
package kservemesh

import (
	"context"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/suites/baseline"
	"github.com/secure-inference/mesh-conformance/tests/capacity"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/detect"
	"github.com/secure-inference/mesh-conformance/tests/diagnostics"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/ready"
	"github.com/secure-inference/mesh-conformance/tests/versions"
)

// Suite is the KServe service-mesh suite.
var Suite = harness.Suite{
	Name: "kservemesh",
	// kserve-servicemesh.md configures Istio sidecars only.
	Modes:        []dataplane.Mode{dataplane.Sidecar},
	Versions:     Versions,
	KindConfig:   "kservemesh.yaml",
	IstioGateway: &IstioGateway,
	Components:   []string{detect.CertManager, detect.Knative, detect.KServe},
	Namespaces:   []string{baseline.Client.Namespace, "user1", "user2", "default", install.KServeNamespace, install.KnativeNamespace, "istio-system"},
	Diagnostics: []diagnostics.Extra{
		{GVR: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, Namespace: install.KServeNamespace, Name: install.KServeConfigMap},
		{GVR: ServerlessServices, Namespace: "user1"},
		{GVR: schema.GroupVersionResource{Group: "serving.kserve.io", Version: "v1beta1", Resource: "inferenceservices"}, Namespace: "user1"},
	},
	Steps: steps,
	// Premises first, then the matrices, then the controls that remove
	// and restore the policy and the PeerAuthentication.
	Features: []harness.Feature{
		baseline.Feature,
		virtualHostFeature,
		ingressEditFeature,
		activatorPremiseFeature,
		activatorPremiseAsWritten,
		isolationFeature,
		documentClaimsFeature,
		strictMTLSFeature,
		mtlsIdentityFeature,
		bypassFeature,
		policyControlFeature,
		activatorControlFeature,
		strictControlFeature,
		coldStartFeature,
		// It restarts and rolls sklearn-iris: after every matrix that
		// probes it.
		restartFeature,
		// Last: it scales istiod to zero and back.
		failClosedFeature,
	},
	Profile: func(o options.Options) string { return string(o.KServeProfile) },
	Profiles: func(o options.Options) []options.Options {
		if options.AsWritten(o) {
			return []options.Options{o} // the document has one setup
		}
		var out []options.Options
		for _, p := range options.KServeProfiles {
			o.KServeProfile = p
			out = append(out, o)
		}
		return out
	},
	CheckOptions: func(o options.Options, _ func(harness.Feature) bool) error { return checkAsWritten(o) },
	Deviations:   Deviations,
	AsWritten:    true,
}

// Versions is KServe v0.20.0's own tested dependency set (kserve-deps.env
// at the root of its tree, which hack/setup's scripts read): Istio 1.27.1,
// Knative Serving 1.21.1, cert-manager v1.17.0, Gateway API v1.5.1.
var Versions = versions.Set{
	NodeImage:      versions.NodeImage134,
	Istio:          "1.27.1",
	CertManager:    "v1.17.0",
	GatewayAPI:     "v1.5.1",
	KnativeServing: "1.21.1",
	KServe:         "v0.20.0",
}

// IstioGateway is released as istio-ingressgateway in istio-system: the
// labels istio=ingressgateway are what net-istio's gateways select.
var IstioGateway = install.Gateway{Name: "istio-ingressgateway", Namespace: "istio-system"}

// SklearnRuntime is the ClusterServingRuntime that serves the suite's
// InferenceServices (modelFormat sklearn).
const SklearnRuntime = "kserve-sklearnserver"

func steps(o options.Options) []harness.Step {
	t := o.Timeouts
	steps := []harness.Step{
		// Stop before installing anything when the cluster cannot hold it.
		harness.ComponentCapacity([]string{detect.Istio, detect.CertManager, detect.Knative, detect.KServe}, dataplane.Sidecar, IstioGateway, "user1",
			func() []capacity.Request { return Workloads(install.Sidecar) }),
		baseline.Workloads,
		// Components, pinned to KServe v0.20's own dependency set.
		{Name: "istio", Component: detect.Istio, Run: func(ctx context.Context, e *harness.Env) error {
			return e.Installer.Istio(ctx, dataplane.Sidecar, IstioGateway)
		}},
		{Name: "cert-manager", Component: detect.CertManager, Run: func(ctx context.Context, e *harness.Env) error { return e.Installer.CertManager(ctx) }},
		{Name: "knative-operator", Component: detect.Knative, Run: func(ctx context.Context, e *harness.Env) error { return e.Installer.KnativeOperator(ctx) }},
		{Name: "knative-serving", Component: detect.Knative, Run: func(ctx context.Context, e *harness.Env) error {
			serving, err := fixtures.Load("kservemesh/knative-serving.yaml")
			if err != nil {
				return err
			}
			return e.Installer.KnativeServing(ctx, serving)
		}},
		{Name: "kserve", Component: detect.KServe, Run: func(ctx context.Context, e *harness.Env) error { return e.Installer.KServe(ctx) }},

		// The document's steps, in its order.
		{Name: "namespace-user1", Run: func(ctx context.Context, e *harness.Env) error {
			return fixtures.Apply(ctx, e.Apply, "kservemesh/namespace.yaml")
		}},
		// The step itself checks that the activator's and autoscaler's new
		// pods carry istio-proxy (a premise repeating that check could not
		// fail): its result in the report is that premise.
		{Name: "knative-serving-sidecars", Run: func(ctx context.Context, e *harness.Env) error { return knativeSidecars(ctx, e.Installer) }},
		{Name: "auth", Run: func(ctx context.Context, e *harness.Env) error {
			return fixtures.Apply(ctx, e.Apply, "kservemesh/auth.yaml")
		}},
		// The document's disableIstioVirtualHost is set by the kserve
		// chart's values (kserve-resources.values.yaml), so a rerun's helm
		// upgrade keeps it; this step checks it where KServe reads it, which
		// also covers a KServe found on the cluster rather than installed.
		{Name: "istio-virtual-host-disabled", Run: func(ctx context.Context, e *harness.Env) error {
			return CheckIstioVirtualHostDisabled(ctx, e.Kube)
		}},
		{Name: "inferenceservices", Run: func(ctx context.Context, e *harness.Env) error {
			// Premise: a runtime serves modelFormat sklearn, or the
			// InferenceServices could only time out NoSupportingRuntime.
			if err := CheckRuntime(ctx, e.Apply.Dynamic, SklearnRuntime); err != nil {
				return err
			}
			var objs []*unstructured.Unstructured
			for _, f := range []string{"kservemesh/inferenceservices.yaml", "kservemesh/inferenceservice-cold.yaml"} {
				isvcs, err := fixtures.Load(f)
				if err != nil {
					return err
				}
				objs = append(objs, isvcs...)
			}
			// Its own limit: a new node pulls two large Python images and
			// the storage initializer downloads the model.
			return e.ApplyReady(ctx, objs, t.InferenceServiceReadyTimeout)
		}, Limit: t.InferenceServiceReadyTimeout},
		{Name: "httpbin-and-clients", Run: func(ctx context.Context, e *harness.Env) error {
			for _, f := range []string{"kservemesh/httpbin.yaml", "kservemesh/clients.yaml"} {
				if err := fixtures.Apply(ctx, e.Apply, f); err != nil {
					return err
				}
			}
			for _, ns := range []string{"user1", "user2", "default"} {
				if err := ready.Deployments(ctx, e.Kube, ns, "app in (sleep,httpbin)", t.ReadyTimeout); err != nil {
					return err
				}
			}
			// The cells mean what they say only if user1's and user2's
			// clients have sidecars (a 403 to a user2 client without one
			// would come through knative-local-gateway, as default's does)
			// and default's has none.
			for _, ns := range []string{"user1", "user2"} {
				if err := ready.PodsWithContainer(ctx, e.Kube, ns, "app=sleep", "istio-proxy", t.ReadyTimeout); err != nil {
					return fmt.Errorf("the %s client has no sidecar, so its cells would not test namespace isolation (is %s labelled for this Istio's injection, e.g. a revision label?): %w", ns, ns, err)
				}
			}
			return ready.NoPodWithContainer(ctx, e.Kube, "default", "istio-proxy", t.ReadyTimeout)
		}},
	}
	if options.AsWritten(o) {
		return stepsAsWritten(steps, t)
	}
	if !hardened(o) {
		return steps
	}
	// The hardened profile's own step, right after auth (the tenant's
	// policy admitting knative-serving, which the activator needs to reach
	// the predictors): the activator's policies.
	i := slices.IndexFunc(steps, func(s harness.Step) bool { return s.Name == "auth" }) + 1
	return slices.Insert(steps, i, harness.Step{Name: "hardened-activator-policies", Run: func(ctx context.Context, e *harness.Env) error {
		return fixtures.Apply(ctx, e.Apply, HardenedFixture)
	}})
}
