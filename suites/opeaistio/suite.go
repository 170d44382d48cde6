// Package opeaistio reproduces opea-istio.md ("OPEA with Istio": ChatQnA
// behind an Istio TLS ingress gateway with a cert-manager certificate, and
// strict mTLS) with the corrections of FACTS.md, in ambient mode as
// documented and in sidecar mode.
//
// The suite is the value Suite; main_test.go names its run (harness.NewRun), and
// the lab runs its cells (cells.go) against stand-ins.
//
//	go test -tags e2e -v ./suites/opeaistio/ -args --dry-run
//	go test -tags e2e -v -timeout 3h ./suites/opeaistio/ -args --mode=ambient
package opeaistio

import (
	"context"
	"fmt"
	"os"
	"slices"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/suites/baseline"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/detect"
	"github.com/secure-inference/mesh-conformance/tests/diagnostics"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/ready"
	"github.com/secure-inference/mesh-conformance/tests/versions"
)

// Suite is the OPEA ChatQnA with Istio suite.
var Suite = harness.Suite{
	Name:         "opeaistio",
	Modes:        Modes,
	Versions:     Versions,
	KindConfig:   "opeaistio.yaml",
	IstioGateway: &IstioGateway,
	Components:   []string{detect.CertManager, detect.GatewayAPI, detect.ChatQnA},
	Namespaces:   []string{baseline.Client.Namespace, ChatQnANamespace, "outside", gatewayNamespace, "istio-system", "cert-manager"},
	Diagnostics: []diagnostics.Extra{
		{GVR: schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}, Namespace: gatewayNamespace},
		{GVR: schema.GroupVersionResource{Version: "v1", Resource: "services"}, Namespace: gatewayNamespace},
	},
	CheckOptions: func(o options.Options, claimed func(harness.Feature) bool) error {
		if err := checkAsWritten(o); err != nil {
			return err
		}
		if _, err := chatqnaValues(o); err != nil {
			return err
		}
		return harness.CheckHostIngressClaim(o, claimed, hostTLSFeature, "the TLS ingress")
	},
	Steps: steps,
	Features: []harness.Feature{
		baseline.Feature,
		enrollmentFeature,
		notEnrolledFeature,
		certificateFeature,
		ingressAndMTLSFeature,
		bypassFeature,
		hostTLSFeature,
		strictControlFeature,
		// Before cleanup, which removes what its cells need.
		failClosedFeature,
		cleanupFeature,
		cleanupAsWrittenFeature,
	},
	Deviations: Deviations,
	AsWritten:  true,
}

// Modes: opea-istio.md describes ambient mode; the suite also runs with
// sidecars.
var Modes = []dataplane.Mode{dataplane.Ambient, dataplane.Sidecar}

// Versions follow opea-project/GenAIInfra kubernetes-addons/istio: its
// helmfile pins cert-manager v1.16.1 and ChatQnA 1.1.0, the document
// applies the Gateway API v1.2.0 standard CRDs. Istio is not pinned
// upstream; 1.27.1 (ambient is GA from 1.24) keeps one Istio for both
// suites.
var Versions = versions.Set{
	NodeImage:   versions.NodeImage134,
	Istio:       "1.27.1",
	CertManager: "v1.16.1",
	GatewayAPI:  "v1.2.0",
	ChatQnA:     "1.1.0",
}

// IstioGateway follows the OPEA helmfile (istio-ingress in istio-ingress),
// on node ports 30080/30443 that kind-config/opeaistio.yaml publishes on
// 127.0.0.1 (on host ports kind picks). Every port is pinned, so that the
// status port never draws 30443 at random first.
var IstioGateway = install.Gateway{Name: "istio-ingress", Namespace: gatewayNamespace,
	NodePorts: map[string]int{"status-port": 30021, "http2": 30080, "https": 30443}}

func steps(o options.Options) []harness.Step {
	mode, t := o.Mode, o.Timeouts
	steps := []harness.Step{
		baseline.Workloads,
		// The helmfile's releases, in its order, then the Gateway API CRDs.
		{Name: "istio-" + string(mode), Component: detect.Istio, Run: func(ctx context.Context, e *harness.Env) error {
			return e.Installer.Istio(ctx, mode, IstioGateway)
		}},
		{Name: "cert-manager", Component: detect.CertManager, Run: func(ctx context.Context, e *harness.Env) error { return e.Installer.CertManager(ctx) }},
		{Name: "gateway-api-crds", Component: detect.GatewayAPI, Run: func(ctx context.Context, e *harness.Env) error { return e.Installer.GatewayAPICRDs(ctx) }},
		{Name: "chatqna-" + string(o.ChatQnAProfile), Component: detect.ChatQnA, Run: func(ctx context.Context, e *harness.Env) error {
			if pvc := e.Opts.ChatQnAModelPVC; pvc != "" {
				if err := CheckClaimBound(ctx, e.Kube, ChatQnANamespace, pvc); err != nil {
					return err
				}
			}
			values, err := chatqnaValues(e.Opts)
			if err != nil {
				return err
			}
			scaled, err := installChatQnA(ctx, e.Installer, e.Opts.ChatQnAProfile, values, "sleep")
			if len(scaled) > 0 {
				e.SetupCheck("light-profile-scaled", fmt.Errorf("values left running, scaled to zero by the installer: %v", scaled))
			}
			return err
		}},
		// What the document leaves out: ChatQnA is never enrolled in the
		// mesh (as written, it stays out: stepsAsWritten).
		{Name: EnrollStep, Run: func(ctx context.Context, e *harness.Env) error { return enrollChatQnA(ctx, e.Kube, mode) }},
		{Name: "clients", Run: func(ctx context.Context, e *harness.Env) error {
			if err := fixtures.Apply(ctx, e.Apply, "opeaistio/clients.yaml"); err != nil {
				return err
			}
			for _, ns := range []string{"outside", ChatQnANamespace} {
				if err := ready.Deployments(ctx, e.Kube, ns, "app=sleep", t.ReadyTimeout); err != nil {
					return err
				}
			}
			if mode != dataplane.Ambient {
				return nil
			}
			// A namespace that ran with sidecars (a kept or user's cluster)
			// keeps them until its pods restart, and istio-cni never
			// redirects a pod with a sidecar.
			restarted, err := install.DropSidecars(ctx, e.Kube, ChatQnANamespace, t.ReadyTimeout)
			if len(restarted) > 0 {
				e.Logf("ambient: restarted %v in %s to drop their sidecars", restarted, ChatQnANamespace)
			}
			return err
		}},
		// The document's steps.
		{Name: "gateway-and-virtual-service", Run: func(ctx context.Context, e *harness.Env) error {
			return fixtures.Apply(ctx, e.Apply, "opeaistio/istio-gateway-and-virtual-service.yaml")
		}},
		{Name: "gateway-certificate", Run: func(ctx context.Context, e *harness.Env) error {
			cert, err := fixtures.Load("opeaistio/istio-gateway-ca-and-cert.yaml")
			if err != nil {
				return err
			}
			return e.ApplyReady(ctx, cert, t.ReadyTimeout)
		}},
		{Name: "strict-mtls", Run: func(ctx context.Context, e *harness.Env) error {
			return fixtures.Apply(ctx, e.Apply, StrictFixture)
		}},
	}
	if options.AsWritten(o) {
		// The document never enrolls chatqna.
		steps = slices.DeleteFunc(steps, func(s harness.Step) bool { return s.Name == EnrollStep })
	}
	return steps
}

// EnrollStep enrolls chatqna in the mesh: the corrected run's step the
// document leaves out.
const EnrollStep = "enroll-chatqna"

// chatqnaValues builds the chart values of a profile. The full profile's
// token is read from the environment only and goes nowhere but the values.
func chatqnaValues(o options.Options) (map[string]any, error) {
	if o.ChatQnAProfile == options.ProfileLight {
		return fixtures.Values("opeaistio/chatqna-light.values.yaml")
	}
	token := os.Getenv(options.HuggingFaceTokenEnv)
	if token == "" {
		token = os.Getenv("HF_TOKEN")
	}
	if token == "" {
		return nil, fmt.Errorf("--chatqna-profile=full downloads models from Hugging Face: set $%s (or $HF_TOKEN), or use --chatqna-profile=light", options.HuggingFaceTokenEnv)
	}
	global := map[string]any{"HUGGINGFACEHUB_API_TOKEN": token}
	// The helmfile's modelUsePVC: model-volume mounts a claim nothing
	// creates; only a claim the user names (and the preflight found Bound).
	if pvc := o.ChatQnAModelPVC; pvc != "" {
		global["modelUsePVC"] = pvc
	}
	return map[string]any{"global": global}, nil
}

// enrollChatQnA labels chatqna for the mode; in sidecar mode every running
// deployment is restarted so that its pods get sidecars (ambient needs no
// restart: istio-cni redirects running pods).
func enrollChatQnA(ctx context.Context, kube kubernetes.Interface, mode dataplane.Mode) error {
	changed, err := install.Enroll(ctx, kube, ChatQnANamespace, mode)
	if err != nil || !changed || mode != dataplane.Sidecar {
		return err
	}
	return restartRunning(ctx, kube, ChatQnANamespace)
}
