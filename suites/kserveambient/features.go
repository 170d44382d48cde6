package kserveambient

import (
	"context"
	"fmt"

	"github.com/secure-inference/mesh-conformance/tests/bypass"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/disruption"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// authManifests are what the isolation cells rest on in either mode.
var authManifests = []string{"kserveambient/auth.ambient.yaml", "kserveambient/auth.sidecar.yaml", "kserveambient/inferenceservice.yaml", "kserveambient/clients.yaml"}

// isolationFeature is the design's namespace isolation on the model's
// Service (Isolation): user1 served, user2 refused by the waypoint (403),
// outside refused by ztunnel (reset); with sidecars, 403s from the
// predictor's sidecar.
var isolationFeature = harness.Feature{
	Name: "namespace-isolation", Kind: harness.KindMatrix, Manifests: authManifests,
	Matrices: func(_ context.Context, o options.Options, _ harness.Facts) ([]matrix.Matrix, error) {
		return []matrix.Matrix{Isolation(o.Mode)}, nil
	},
}

// podIPFeature is the first waypoint hole: the model by pod IP, which
// skips the waypoint (PodIP). The IP is the predictor pod's (a placeholder
// in a dry run); failing to read it fails the check pod-ip/pods.
var podIPFeature = harness.Feature{
	Name: "pod-ip", Kind: harness.KindMatrix, Manifests: authManifests,
	Matrices: func(ctx context.Context, o options.Options, f harness.Facts) ([]matrix.Matrix, error) {
		pods, err := f.Pods(ctx, Predictor())
		if err == nil && len(pods) == 0 {
			err = fmt.Errorf("no pod of %s's predictor (%s in user1)", SklearnIris, PredictorSelector(SklearnIris))
		}
		if err != nil {
			return nil, &harness.FactError{Fact: "pods", Err: err}
		}
		return []matrix.Matrix{PodIP(o.Mode, pods[0].IP)}, nil
	},
}

// l7RuleOnZtunnelFeature is the fourth waypoint hole: an HTTP rule
// enforced where there is no HTTP (L7RuleOnZtunnel).
var l7RuleOnZtunnelFeature = harness.Feature{
	Name: "l7-rule-on-ztunnel", Kind: harness.KindMatrix,
	Manifests: []string{L7RuleFixture, "kservemesh/httpbin.yaml", "kserveambient/clients.yaml"},
	Matrices: func(_ context.Context, o options.Options, _ harness.Facts) ([]matrix.Matrix, error) {
		return []matrix.Matrix{L7RuleOnZtunnel(o.Mode)}, nil
	},
}

// bypassFeature is bypass-paths: every port of the predictor's pods by
// pod IP, from outside the mesh and from user2, refused everywhere but on
// the mesh's documented plaintext ports (in ambient mode none: ztunnel
// captures every port but its HBONE port 15008, probed with TLS without a
// client certificate; tests/bypass ports.go).
var bypassFeature = harness.Bypass(harness.Feature{Name: "bypass-paths", Manifests: authManifests},
	"kserveambient-bypass-paths", []bypass.Target{Predictor()}, BypassClients)

// The policy controls, one per mode (the policies differ): with the
// policies that refuse user2 removed it is served, and refused again once
// they are restored, timing both.
var (
	ambientPolicyControlFeature = harness.Control(harness.Feature{Name: "policy-control", Applies: ambient},
		[]harness.PolicyFixture{
			{File: authFixture(dataplane.Ambient), Kind: "AuthorizationPolicy", Name: "ns-owner-access-istio"},
			{File: authFixture(dataplane.Ambient), Kind: "AuthorizationPolicy", Name: "waypoint-deny-all"},
		},
		func(o options.Options) matrix.Matrix { return PolicyControl(o.Mode) }, restoredIsolation)
	sidecarPolicyControlFeature = harness.Control(harness.Feature{Name: "policy-control", Applies: func(o options.Options) bool { return !ambient(o) }},
		[]harness.PolicyFixture{
			{File: authFixture(dataplane.Sidecar), Kind: "AuthorizationPolicy", Name: "ns-owner-access-istio"},
			{File: authFixture(dataplane.Sidecar), Kind: "AuthorizationPolicy", Name: "global-deny-all"},
		},
		func(o options.Options) matrix.Matrix { return PolicyControl(o.Mode) }, restoredIsolation)
)

func restoredIsolation(o options.Options) matrix.Matrix {
	return Isolation(o.Mode).Only("kserveambient-policy-restored", "user2-to-sklearn-iris-status")
}

// FailClosed is the fail-closed feature's name.
const FailClosed = "fail-closed"

// failClosedFeature takes away in turn what enforces the isolation while
// the refused calls to the model (user2, outside) and user1's allowed one
// are probed every round: a single 2xx on a refused cell fails it; user1
// must be served again in time after each restoration. Both modes: istiod
// scaled to zero. Ambient: the ztunnel on the predictor's node restarted;
// the waypoint scaled to zero (the waypoint's third hole: the design's L4
// policy admits only the waypoint, so without it everything must be
// refused, user1 too, until it is back); the waypoint Gateway deleted with
// its policy and the namespace label left in place (Istio issue 57315).
// Sidecar: the predictor's pods restarted (a cold sidecar). Extended: it
// scales the control plane to zero, so it is claimed by default only on
// the suite's own kind cluster.
var failClosedFeature = harness.FailClosed(harness.Feature{Name: FailClosed, ClaimedOnOwnCluster: true, Manifests: authManifests},
	func(e *harness.Env) []disruption.Disruption {
		limit := e.Opts.Timeouts.ReadyTimeout
		istiod := disruption.ScaleToZero(e.Kube, "istiod", "istio-system", "istiod", limit)
		predictor := PredictorSelector(SklearnIris)
		if e.Mode != dataplane.Ambient {
			return []disruption.Disruption{istiod, disruption.RestartPods(e.Kube, "sidecar-restart", "user1", predictor, limit)}
		}
		return []disruption.Disruption{istiod,
			disruption.RestartNodeProxy(e.Kube, "ztunnel-restart", "user1", predictor, limit),
			disruption.ScaleToZero(e.Kube, "waypoint", "user1", Waypoint, limit),
			WaypointDeleted(e),
		}
	},
	func(o options.Options) matrix.Matrix { return FailClosedCells(o.Mode) })
