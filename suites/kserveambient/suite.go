// Package kserveambient checks KServe under Istio ambient as Kubeflow's
// KEP-2676 designs it: KServe in Standard (RawDeployment) mode, no
// Knative; user namespaces in the mesh by istio.io/dataplane-mode=ambient;
// one waypoint per user namespace; a global default deny for ztunnel and for
// every waypoint; an L4 policy admitting only the waypoint and the
// namespace's L7 policy attached to the waypoint by targetRefs; the
// ingress a Gateway API Gateway of class istio whose requests for user1 go
// through the waypoint (istio.io/ingress-use-waypoint; ingress.go)
// (FACTS.md, "KServe under ambient", for the sources and where they
// disagree). It runs the same setup with sidecars (injection, no waypoint)
// for the side by side.
//
// The suite is the value Suite; main_test.go names its run (harness.NewRun).
//
//	go test -tags e2e -v ./suites/kserveambient/ -args --dry-run
//	go test -tags e2e -v -timeout 6h ./suites/kserveambient/ -args --mode=ambient
package kserveambient

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/suites/baseline"
	"github.com/secure-inference/mesh-conformance/suites/kservemesh"
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

// Suite is the KServe-under-ambient suite.
var Suite = harness.Suite{
	Name: "kserveambient",
	// KEP-2676 designs ambient; sidecar mode is the side by side.
	Modes:        []dataplane.Mode{dataplane.Ambient, dataplane.Sidecar},
	Versions:     Versions,
	KindConfig:   "kserveambient.yaml",
	IstioGateway: &kservemesh.IstioGateway,
	Components:   []string{detect.CertManager, detect.GatewayAPI, detect.KServe},
	Namespaces:   []string{baseline.Client.Namespace, "user1", "user2", OutsideNamespace, install.KServeNamespace, "istio-system"},
	Diagnostics: []diagnostics.Extra{
		{GVR: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, Namespace: install.KServeNamespace, Name: install.KServeConfigMap},
		{GVR: kservemesh.InferenceServices, Namespace: "user1"},
		{GVR: Gateways, Namespace: "user1"},
		{GVR: Gateways, Namespace: IngressGatewayNamespace},
		{GVR: HTTPRoutes, Namespace: "user1"},
	},
	CheckOptions: func(o options.Options, claimed func(harness.Feature) bool) error {
		return harness.CheckHostIngressClaim(o, claimed, ingressFeature, "the ingress Gateway")
	},
	Steps: steps,
	Features: []harness.Feature{
		baseline.Feature,
		standardModeFeature,
		enrollmentFeature,
		waypointFeature,
		isolationFeature,
		podIPFeature,
		l7RuleOnZtunnelFeature,
		bypassFeature,
		ingressFeature,
		ambientPolicyControlFeature,
		sidecarPolicyControlFeature,
		// Last: it scales istiod and the waypoint to zero and deletes the
		// waypoint.
		failClosedFeature,
	},
}

// Versions are the KServe suite's, KServe v0.20.0's own tested set
// (kserve-deps.env), without Knative: Standard mode needs none.
var Versions = versions.Set{
	NodeImage:   kservemesh.Versions.NodeImage,
	Istio:       kservemesh.Versions.Istio,
	CertManager: kservemesh.Versions.CertManager,
	GatewayAPI:  kservemesh.Versions.GatewayAPI,
	KServe:      kservemesh.Versions.KServe,
}

// Gateways is Gateway API's Gateway, the waypoint's and the ingress's
// kind; HTTPRoutes route the ingress to user1's Services.
var (
	Gateways   = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
	HTTPRoutes = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
)

// authFixture is the design's policies for a mode.
func authFixture(mode dataplane.Mode) string { return "kserveambient/auth." + string(mode) + ".yaml" }

func steps(o options.Options) []harness.Step {
	mode, t := o.Mode, o.Timeouts
	steps := []harness.Step{
		// Stop before installing anything when the cluster cannot hold it.
		harness.ComponentCapacity([]string{detect.Istio, detect.CertManager, detect.KServe}, mode, kservemesh.IstioGateway, "user1",
			func() []capacity.Request { return Workloads(mode) }),
		baseline.Workloads,
		{Name: "istio-" + string(mode), Component: detect.Istio, Run: func(ctx context.Context, e *harness.Env) error {
			return e.Installer.Istio(ctx, mode, kservemesh.IstioGateway)
		}},
		{Name: "cert-manager", Component: detect.CertManager, Run: func(ctx context.Context, e *harness.Env) error { return e.Installer.CertManager(ctx) }},
		// The waypoint is a Gateway API Gateway.
		{Name: "gateway-api-crds", Component: detect.GatewayAPI, Run: func(ctx context.Context, e *harness.Env) error { return e.Installer.GatewayAPICRDs(ctx) }},
		// Standard mode: kserve-resources.values.yaml.
		{Name: "kserve-standard", Component: detect.KServe, Run: func(ctx context.Context, e *harness.Env) error { return e.Installer.KServe(ctx) }},
		// Before any pod: a sidecar is injected at creation.
		{Name: "namespaces", Run: func(ctx context.Context, e *harness.Env) error {
			if err := fixtures.Apply(ctx, e.Apply, "kserveambient/namespaces.yaml"); err != nil {
				return err
			}
			for _, ns := range []string{"user1", "user2"} {
				if _, err := install.Enroll(ctx, e.Kube, ns, mode); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	if mode == dataplane.Ambient {
		steps = append(steps, harness.Step{Name: "waypoint", Run: func(ctx context.Context, e *harness.Env) error {
			w, err := fixtures.Load(WaypointFixture)
			if err != nil {
				return err
			}
			return applyWaypoint(ctx, e, w)
		}})
	}
	return append(steps,
		harness.Step{Name: "auth-" + string(mode), Run: func(ctx context.Context, e *harness.Env) error {
			return fixtures.Apply(ctx, e.Apply, authFixture(mode))
		}},
		harness.Step{Name: "inferenceservice", Run: func(ctx context.Context, e *harness.Env) error {
			// Premises: a runtime serves modelFormat sklearn, and KServe
			// (installed, or found on the cluster) defaults to Standard.
			if err := kservemesh.CheckRuntime(ctx, e.Apply.Dynamic, kservemesh.SklearnRuntime); err != nil {
				return err
			}
			if err := CheckStandardMode(ctx, e.Kube); err != nil {
				return err
			}
			isvc, err := fixtures.Load("kserveambient/inferenceservice.yaml")
			if err != nil {
				return err
			}
			return e.ApplyReady(ctx, isvc, t.InferenceServiceReadyTimeout)
		}, Limit: t.InferenceServiceReadyTimeout},
		// KEP-2676's ingress, routed to the predictor's Service, which
		// the InferenceService has made by now.
		ingressStep(o),
		harness.Step{Name: "httpbin-and-clients", Run: func(ctx context.Context, e *harness.Env) error {
			for _, f := range []string{"kservemesh/httpbin.yaml", "kserveambient/clients.yaml", L7RuleFixture} {
				if err := fixtures.Apply(ctx, e.Apply, f); err != nil {
					return err
				}
			}
			for _, ns := range []string{"user1", "user2", OutsideNamespace} {
				if err := ready.Deployments(ctx, e.Kube, ns, "app in (sleep,httpbin)", t.ReadyTimeout); err != nil {
					return err
				}
			}
			// The outside client's cells mean what they say only if it is
			// outside the mesh.
			return ready.NoPodWithContainer(ctx, e.Kube, OutsideNamespace, "istio-proxy", t.ReadyTimeout)
		}},
	)
}

// L7RuleFixture is the policy with an HTTP rule on httpbin's pods.
const L7RuleFixture = "kserveambient/ztunnel-l7-rule.yaml"

// enrollmentFeature: user1 and user2 carry the mode's label, and the
// predictor and the enrolled clients are in the mesh (a sidecar, or
// ztunnel's redirection): the isolation means nothing for pods outside it.
var enrollmentFeature = harness.Feature{
	Name: "mesh-enrollment", Kind: harness.KindPremise, Manifests: []string{"kserveambient/namespaces.yaml", "kserveambient/clients.yaml"},
	Checks: []harness.Check{
		enrolled("user1-namespace", "user1", ""), enrolled("user2-namespace", "user2", ""),
		enrolled("predictor-pods", "user1", PredictorSelector(SklearnIris)),
		enrolled("user1-client", "user1", "app=sleep"), enrolled("user2-client", "user2", "app=sleep"),
	},
}

// enrolled is the check name of a namespace's label (no selector) or of
// its pods of a selector.
func enrolled(name, namespace, selector string) harness.Check {
	return harness.Check{Name: name, Run: func(ctx context.Context, e *harness.Env) error {
		if selector == "" {
			return install.CheckEnrolled(ctx, e.Kube, namespace, e.Mode)
		}
		return install.PodsEnrolled(ctx, e.Kube, namespace, selector, e.Mode, e.Opts.Timeouts.ReadyTimeout)
	}}
}
