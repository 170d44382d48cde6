package kserveambient

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/disruption"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/ready"
)

// What the suite knows of user1's waypoint: the Gateway, its premise, and
// taking it away.

// WaypointFixture is user1's waypoint Gateway and the namespace label
// that enrolls user1's Services in it.
const WaypointFixture = "kserveambient/waypoint.yaml"

// Waypoint names user1's waypoint: the Gateway, and the Deployment istiod
// makes of it; its pods carry the Gateway API name label.
const (
	Waypoint         = "waypoint"
	WaypointSelector = "gateway.networking.k8s.io/gateway-name=" + Waypoint
	UseWaypointLabel = "istio.io/use-waypoint"
	WaypointForLabel = "istio.io/waypoint-for"
)

// ambient tells whether the run is in ambient mode (the waypoint's own
// features).
func ambient(o options.Options) bool { return o.Mode == dataplane.Ambient }

// applyWaypoint applies the waypoint's objects and waits until istiod has
// programmed the Gateway and its Deployment is ready.
func applyWaypoint(ctx context.Context, e *harness.Env, objs []*unstructured.Unstructured) error {
	if err := e.Apply.Apply(ctx, objs...); err != nil {
		return err
	}
	limit := e.Opts.Timeouts.ReadyTimeout
	if err := ready.Condition(ctx, e.Apply.Dynamic.Resource(Gateways).Namespace("user1"), Waypoint, "Programmed", limit); err != nil {
		return fmt.Errorf("waypoint Gateway user1/%s: %w", Waypoint, err)
	}
	return ready.Deployments(ctx, e.Kube, "user1", WaypointSelector, limit)
}

// waypointFeature: in ambient mode the cells mean what they say only if
// user1 is enrolled in its waypoint (without it, user2's refusal would be
// ztunnel's reset, not the waypoint's 403), also for the ingress's
// requests, and the live waypoint serves Services only (serving workloads too, it would be on the pod-IP path).
// That it is programmed and ready is the setup's waypoint step.
var waypointFeature = harness.Feature{
	Name: "waypoint", Kind: harness.KindPremise, Manifests: []string{WaypointFixture}, Applies: ambient,
	Checks: []harness.Check{
		{Name: "serves-services-only", Run: func(ctx context.Context, e *harness.Env) error {
			gw, err := e.Apply.Dynamic.Resource(Gateways).Namespace("user1").Get(ctx, Waypoint, metav1.GetOptions{})
			if err != nil {
				return err
			}
			// Istio's default when the label is absent is service.
			if got := gw.GetLabels()[WaypointForLabel]; got != "" && got != "service" {
				return fmt.Errorf("Gateway user1/%s has %s=%q: it also serves workload (pod IP) traffic, so the pod-ip cells would not skip it", Waypoint, WaypointForLabel, got)
			}
			return nil
		}},
		{Name: "namespace-uses-it", Run: func(ctx context.Context, e *harness.Env) error {
			ns, err := e.Kube.CoreV1().Namespaces().Get(ctx, "user1", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if got := ns.Labels[UseWaypointLabel]; got != Waypoint {
				return fmt.Errorf("namespace user1 has %s=%q, want %q: its Services do not go through the waypoint", UseWaypointLabel, got, Waypoint)
			}
			return nil
		}},
		// The ingress cells' refusals are the waypoint's only if the
		// gateway sends user1's Services to it (the design's "Ingress
		// Traffic"): without the label the owner would be refused by
		// ztunnel too.
		{Name: "ingress-uses-it", Run: func(ctx context.Context, e *harness.Env) error {
			ns, err := e.Kube.CoreV1().Namespaces().Get(ctx, "user1", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if got := ns.Labels[IngressUseWaypointLabel]; !strings.EqualFold(got, "true") {
				return fmt.Errorf("namespace user1 has %s=%q, want \"true\": the ingress gateway goes around the waypoint", IngressUseWaypointLabel, got)
			}
			return nil
		}},
	},
}

// WaypointDeleted deletes user1's waypoint Gateway and leaves the
// namespace's istio.io/use-waypoint label and the L7 policy attached to it
// by targetRefs in place: a policy on a waypoint that does not exist
// (Istio issue 57315). Gone waits until istiod has removed the waypoint's
// pods; Restore applies the Gateway again and waits until it is
// programmed and ready.
func WaypointDeleted(e *harness.Env) disruption.Disruption {
	limit := e.Opts.Timeouts.ReadyTimeout
	gateway := func() ([]*unstructured.Unstructured, error) {
		objs, err := fixtures.Load(WaypointFixture)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			if o.GetKind() == "Gateway" {
				return []*unstructured.Unstructured{o}, nil
			}
		}
		return nil, fmt.Errorf("fixture %s has no Gateway", WaypointFixture)
	}
	return disruption.Disruption{
		Name: "waypoint-deleted",
		What: "Gateway user1/" + Waypoint + " deleted; user1 keeps " + UseWaypointLabel + "=" + Waypoint + " and the L7 policy keeps its targetRefs to it",
		Take: func(ctx context.Context) error {
			gw, err := gateway()
			if err != nil {
				return err
			}
			return e.Apply.Delete(ctx, gw...)
		},
		Gone: func(ctx context.Context) error {
			return wait.PollUntilContextTimeout(ctx, time.Second, limit, true, func(ctx context.Context) (bool, error) {
				pods, err := e.Kube.CoreV1().Pods("user1").List(ctx, metav1.ListOptions{LabelSelector: WaypointSelector})
				return err == nil && len(pods.Items) == 0, nil
			})
		},
		Restore: func(ctx context.Context) error {
			gw, err := gateway()
			if err != nil {
				return err
			}
			return applyWaypoint(ctx, e, gw)
		},
	}
}
