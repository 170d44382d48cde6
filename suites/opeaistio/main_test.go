// Package opeaistio reproduces opea-istio.md ("OPEA with Istio": ChatQnA
// behind an Istio TLS ingress gateway with a cert-manager certificate, and
// strict mTLS) with the corrections of FACTS.md, in ambient mode as
// documented and in sidecar mode.
//
//	go test ./suites/opeaistio/ -args --mode=ambient
//	go test ./suites/opeaistio/ -args --dry-run
package opeaistio

import (
	"context"
	"fmt"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/detect"
	"github.com/secure-inference/mesh-conformance/tests/diagnostics"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/install"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/preflight"
	"github.com/secure-inference/mesh-conformance/tests/ready"
	"github.com/secure-inference/mesh-conformance/tests/versions"
)

const suite = "opeaistio"

var run *harness.Run

func TestMain(m *testing.M) {
	// opea-istio.md describes ambient mode; the suite also runs with sidecars.
	run = harness.Setup(suite, versions.OPEAIstio, options.ModeAmbient, options.ModeSidecar)
	values, err := chatqnaValues(run.Opts.ChatQnAProfile)
	if err == nil {
		err = claimHostTLS()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", suite, err)
		os.Exit(2)
	}
	run.AddDiagnostics(
		diagnostics.Extra{GVR: schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}, Namespace: gatewayNamespace},
		diagnostics.Extra{GVR: schema.GroupVersionResource{Version: "v1", Resource: "services"}, Namespace: gatewayNamespace},
	)
	run.DiagnoseNamespaces(install.ChatQnANamespace, "outside", gatewayNamespace, "istio-system", "cert-manager")
	run.NeedsIstio(run.Opts.Mode, install.OPEAGateway)
	run.Needs(detect.CertManager, detect.GatewayAPI, detect.ChatQnA)
	in := func() *install.Installer { return run.Installer }
	mode, t := run.Opts.Mode, run.Opts.Timeouts
	run.Env.Setup(
		run.Step("baseline-workloads", preflight.Deploy(run)),
		// The helmfile's releases, in its order, then the Gateway API CRDs.
		run.Install(detect.Istio, "istio-"+string(mode), func(ctx context.Context) error { return in().Istio(ctx, mode, install.OPEAGateway) }),
		run.Install(detect.CertManager, "cert-manager", func(ctx context.Context) error { return in().CertManager(ctx) }),
		run.Install(detect.GatewayAPI, "gateway-api-crds", func(ctx context.Context) error { return in().GatewayAPICRDs(ctx) }),
		run.Install(detect.ChatQnA, "chatqna-"+string(run.Opts.ChatQnAProfile), func(ctx context.Context) error {
			if pvc := run.Opts.ChatQnAModelPVC; pvc != "" {
				if err := install.CheckClaimBound(ctx, run.Kube, install.ChatQnANamespace, pvc); err != nil {
					return err
				}
			}
			scaled, err := in().ChatQnA(ctx, run.Opts.ChatQnAProfile, values, "sleep")
			if len(scaled) > 0 {
				run.Report.Check(suite, "setup/light-profile-scaled", fmt.Errorf("values left running, scaled to zero by the installer: %v", scaled))
			}
			return err
		}),
		// What the document leaves out: ChatQnA is never enrolled in the mesh.
		run.Step("enroll-chatqna", func(ctx context.Context) error { return enrollChatQnA(ctx, mode) }),
		run.Step("clients", func(ctx context.Context) error {
			if err := fixtures.Apply(ctx, run.Apply, "opeaistio/clients.yaml"); err != nil {
				return err
			}
			for _, ns := range []string{"outside", install.ChatQnANamespace} {
				if err := ready.Deployments(ctx, run.Kube, ns, "app=sleep", t.ReadyTimeout); err != nil {
					return err
				}
			}
			if mode != options.ModeAmbient {
				return nil
			}
			// A namespace that ran with sidecars (a kept or user's cluster)
			// keeps them until its pods restart, and istio-cni never
			// redirects a pod with a sidecar.
			restarted, err := install.DropSidecars(ctx, run.Kube, install.ChatQnANamespace, t.ReadyTimeout)
			if len(restarted) > 0 {
				run.Logf("ambient: restarted %v in %s to drop their sidecars", restarted, install.ChatQnANamespace)
			}
			return err
		}),
		// The document's steps.
		run.Step("gateway-and-virtual-service", func(ctx context.Context) error {
			return fixtures.Apply(ctx, run.Apply, "opeaistio/istio-gateway-and-virtual-service.yaml")
		}),
		run.Step("gateway-certificate", func(ctx context.Context) error {
			objs := fixtures.MustLoad("opeaistio/istio-gateway-ca-and-cert.yaml")
			if err := run.Apply.Apply(ctx, objs...); err != nil {
				return err
			}
			for _, o := range objs {
				ri, err := run.Apply.Resource(o)
				if err != nil {
					return err
				}
				if err := ready.Condition(ctx, ri, o.GetName(), "Ready", t.ReadyTimeout); err != nil {
					return err
				}
			}
			return nil
		}),
		run.Step("strict-mtls", func(ctx context.Context) error {
			return fixtures.Apply(ctx, run.Apply, "opeaistio/istio-mtls-strict.yaml")
		}),
	)
	os.Exit(run.Env.Run(m))
}

// chatqnaValues builds the chart values of a profile. The full profile's
// token is read from the environment only and goes nowhere but the values.
func chatqnaValues(p options.Profile) (map[string]any, error) {
	if p == options.ProfileLight {
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
	if pvc := run.Opts.ChatQnAModelPVC; pvc != "" {
		global["modelUsePVC"] = pvc
	}
	return map[string]any{"global": global}, nil
}

// enrollChatQnA labels chatqna for the mode; in sidecar mode every running
// deployment is restarted so that its pods get sidecars (ambient needs no
// restart: istio-cni redirects running pods).
func enrollChatQnA(ctx context.Context, mode options.Mode) error {
	changed, err := install.Enroll(ctx, run.Kube, install.ChatQnANamespace, mode)
	if err != nil || !changed || mode != options.ModeSidecar {
		return err
	}
	return install.RestartRunning(ctx, run.Kube, install.ChatQnANamespace)
}

// TestOPEAIstio runs the features in order.
func TestOPEAIstio(t *testing.T) {
	run.Test(t,
		preflight.Feature(run),
		enrollmentFeature(),
		certificateFeature(),
		ingressAndMTLSFeature(),
		hostTLSFeature(),
		strictControlFeature(),
		cleanupFeature(),
	)
}
