package kservemesh

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/secure-inference/mesh-conformance/tests/disruption"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// RestartIsolation is the name of the measurement of isolation while a
// model restarts.
const RestartIsolation = "restart-isolation"

// InferenceServices is KServe's resource.
var InferenceServices = schema.GroupVersionResource{Group: "serving.kserve.io", Version: "v1beta1", Resource: "inferenceservices"}

// RolloutAnnotation is what the rollout changes on sklearn-iris's
// predictor to make a new revision.
const RolloutAnnotation = "mesh-conformance.io/rollout"

// restartFeature is restart-isolation. sklearn-iris keeps the activator off
// its path only while it has a ready pod. With none, Knative's
// ServerlessService reconciler points the revision's public endpoints at
// the activator whatever the autoscaler's mode ("Forcing SKS into Proxy
// mode, insufficient ready endpoints": serving knative-v1.21.1
// pkg/reconciler/serverlessservice/serverlessservice.go, which then marks
// ActivatorEndpointsPopulated); the activator holds the requests until a
// pod is ready (pkg/activator/net/throttler.go, the revision's breaker
// queue) and forwards them under its own identity, which the document's
// knative-serving rule admits. So every restart and every rollout may
// serve the callers the policy refuses, not only burst capacity and cold
// starts. The feature measures it twice: the predictor's pods deleted, and
// a new revision rolled out; each 2xx of a refused cell is a finding with
// its round, time, evidence and the ServerlessServices' state, and the
// window it belongs to. The verdict is the refusal afterwards: once the
// model is Ready, the refused cells are refused again within
// --max-time-to-consistency, and stay refused. Under the hardened profile
// the activator's policies refuse those callers while the model restarts
// too, so a 2xx then fails the feature (restartSpec.ServedFails).
var restartFeature = harness.Restarts(harness.Feature{
	Name: RestartIsolation, Applies: options.Corrected, Manifests: []string{"kservemesh/auth.yaml", "kservemesh/inferenceservices.yaml", "kservemesh/clients.yaml"},
	Limit: restartLimit,
}, restartSpec)

var restartSpec = harness.RestartSpec{
	Disruptions: restartDisruptions,
	Cells:       func(options.Options) matrix.Matrix { return RestartCells() },
	Path: func(ctx context.Context, e *harness.Env) (string, error) {
		return ServerlessServicePath(ctx, e.Apply.Dynamic, "user1", SklearnIris)
	},
	TakeLimit:    func(o options.Options) time.Duration { return o.Timeouts.ReadyTimeout },
	RestoreLimit: func(o options.Options) time.Duration { return o.Timeouts.InferenceServiceReadyTimeout },
	Note:         activatorNote(RestartNote),
	// As for cold starts: a finding under the documented setup, a verdict
	// under the hardened one.
	ServedFails: hardened,
}

// restartLimit: each of the two disruptions may take its pods' removal
// (or the new revision's creation), the model's readiness (a new pod
// downloads the model), then settling.
func restartLimit(o options.Options) time.Duration {
	t := o.Timeouts
	hold := time.Duration(t.RequiredConsecutiveSuccesses+1) * t.RoundInterval
	return 2 * (t.ReadyTimeout + t.InferenceServiceReadyTimeout + hold + harness.Settings(t).Longest())
}

func restartDisruptions(e *harness.Env) []disruption.Disruption {
	to := e.Opts.Timeouts
	pods := disruption.RestartPods(e.Kube, "pod-restart", "user1", PredictorSelector(SklearnIris), to.InferenceServiceReadyTimeout)
	pods.What = "the " + SklearnIris + " predictor's pods deleted (its Deployment starts new ones; no ready pod meanwhile)"
	return []disruption.Disruption{pods, Rollout(e.Apply.Dynamic, "user1", SklearnIris, to.InferenceServiceReadyTimeout)}
}

// RestartNote says what a 2xx of restart-isolation means.
const RestartNote = "model restart: with no ready pod Knative points the revision's endpoints at the activator (ActivatorEndpointsPopulated), " +
	"which forwards with its own identity and the knative-serving rule admits it (knative net-istio issue 554); a 2xx here means isolation did not hold " +
	"while the model restarted (the document's limitation reaches every restart and rollout); the refusal once Ready is the verdict"

// RestartCells are the isolation matrix's refused cells to sklearn-iris,
// and user1's status cell, whose downtime shows the model really was away.
func RestartCells() matrix.Matrix {
	return Isolation().Only("kserve-restart-isolation",
		"user2-to-sklearn-iris-status", "user2-to-sklearn-iris-predict",
		"default-to-sklearn-iris-status", "default-to-sklearn-iris-predict",
		"user1-to-sklearn-iris-status")
}

// ServerlessServicePath is what carries an InferenceService's predictor
// now: each revision's ServerlessService, its mode (the autoscaler's
// wish) and whether the activator backs its endpoints (what the
// reconciler did: with no ready pod it does whatever the mode says).
func ServerlessServicePath(ctx context.Context, dyn dynamic.Interface, namespace, isvc string) (string, error) {
	list, err := dyn.Resource(ServerlessServices).Namespace(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: "serving.knative.dev/service=" + isvc + "-predictor"})
	if err != nil {
		return "", fmt.Errorf("listing the ServerlessServices of %s: %w", isvc, err)
	}
	if len(list.Items) == 0 {
		return "", fmt.Errorf("no ServerlessService for %s-predictor in %s", isvc, namespace)
	}
	return DescribeServerlessServices(list.Items), nil
}

// DescribeServerlessServices renders ServerlessServices as
// "<name>: <mode>, activator endpoints <status>", joined by "; ".
func DescribeServerlessServices(items []unstructured.Unstructured) string {
	var out []string
	for _, sks := range items {
		mode, _, _ := unstructured.NestedString(sks.Object, "spec", "mode")
		activator := "unknown"
		conds, _, _ := unstructured.NestedSlice(sks.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "ActivatorEndpointsPopulated" {
				activator, _ = m["status"].(string)
			}
		}
		out = append(out, fmt.Sprintf("%s: %s, activator endpoints %s", sks.GetName(), orNone(mode), activator))
	}
	return strings.Join(out, "; ")
}

func orNone(s string) string {
	if s == "" {
		return "no mode"
	}
	return s
}

// Rollout rolls an InferenceService's predictor to a new revision: Take
// sets RolloutAnnotation on spec.predictor.annotations, which KServe
// v0.20.0 puts on the Knative Service's revision template (components/
// predictor.go buildObjectMeta, reconcilers/knative/ksvc_reconciler.go; it
// filters only serviceAnnotationDisallowedList), so Knative makes a new
// revision; Gone waits until it exists; Restore waits until it is the
// latest ready revision and the InferenceService is Ready. Nothing is put
// back: removing the annotation would roll out yet another revision.
func Rollout(dyn dynamic.Interface, namespace, isvc string, limit time.Duration) disruption.Disruption {
	var before string // the latest created revision when Take ran
	taken := false
	status := func(ctx context.Context) (created, ready string, isReady bool, err error) {
		u, err := dyn.Resource(InferenceServices).Namespace(namespace).Get(ctx, isvc, metav1.GetOptions{})
		if err != nil {
			return "", "", false, err
		}
		created, _, _ = unstructured.NestedString(u.Object, "status", "components", "predictor", "latestCreatedRevision")
		ready, _, _ = unstructured.NestedString(u.Object, "status", "components", "predictor", "latestReadyRevision")
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "Ready" {
				isReady = m["status"] == "True"
			}
		}
		return created, ready, isReady, nil
	}
	poll := func(ctx context.Context, what string, done func(created, ready string, isReady bool) bool) error {
		var last string
		err := wait.PollUntilContextTimeout(ctx, time.Second, limit, true, func(ctx context.Context) (bool, error) {
			created, ready, isReady, err := status(ctx)
			if err != nil {
				last = err.Error()
				return false, nil // retried until the limit
			}
			last = fmt.Sprintf("latest created revision %q, latest ready %q, Ready %v", created, ready, isReady)
			return done(created, ready, isReady), nil
		})
		if err != nil {
			return fmt.Errorf("InferenceService %s/%s: %s not within %s (before the rollout: %q; last seen %s)", namespace, isvc, what, limit, before, last)
		}
		return nil
	}
	return disruption.Disruption{
		Name: "rollout",
		What: fmt.Sprintf("InferenceService %s/%s rolled out to a new revision (spec.predictor.annotations %s changed)", namespace, isvc, RolloutAnnotation),
		Take: func(ctx context.Context) error {
			created, _, _, err := status(ctx)
			if err != nil {
				return err
			}
			if created == "" {
				return fmt.Errorf("InferenceService %s/%s has no predictor revision yet: nothing to roll", namespace, isvc)
			}
			before = created
			patch := fmt.Sprintf(`{"spec":{"predictor":{"annotations":{%q:%q}}}}`, RolloutAnnotation, time.Now().UTC().Format(time.RFC3339Nano))
			if _, err := dyn.Resource(InferenceServices).Namespace(namespace).Patch(ctx, isvc, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
				return fmt.Errorf("rolling InferenceService %s/%s: %w", namespace, isvc, err)
			}
			taken = true
			return nil
		},
		Gone: func(ctx context.Context) error {
			return poll(ctx, "a new revision", func(created, _ string, _ bool) bool { return created != "" && created != before })
		},
		Restore: func(ctx context.Context) error {
			if !taken {
				return nil
			}
			return poll(ctx, "Ready on its new revision", func(created, ready string, isReady bool) bool {
				return isReady && created != before && ready == created
			})
		},
	}
}
