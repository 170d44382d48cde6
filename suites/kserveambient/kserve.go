package kserveambient

import (
	"context"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/install"
)

// What the suite knows of KServe beyond installing it: that it runs in
// Standard mode, the premise of every cell (a KServe found on the cluster
// in Knative mode would put Knative's activator and queue-proxy on the
// path, which the design leaves out).

// StandardMode is KServe's name for RawDeployment mode since v0.17.
const StandardMode = "Standard"

// CheckStandardMode checks where KServe reads it that its default
// deployment mode is Standard: inferenceservice-config's deploy JSON
// (kserve-resources files/common/configmap-patch.yaml at v0.20.0 writes
// kserve.controller.deploymentMode there).
func CheckStandardMode(ctx context.Context, kube kubernetes.Interface) error {
	ns, name := install.KServeNamespace, install.KServeConfigMap
	cm, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading %s/%s: %w", ns, name, err)
	}
	var deploy struct{ DefaultDeploymentMode string }
	if err := json.Unmarshal([]byte(cm.Data["deploy"]), &deploy); err != nil {
		return fmt.Errorf("%s/%s key deploy is not JSON: %w", ns, name, err)
	}
	if deploy.DefaultDeploymentMode != StandardMode {
		return fmt.Errorf("%s/%s: defaultDeploymentMode is %q, want %q (KEP-2676: no Knative under ambient): "+
			"set the kserve-resources value kserve.controller.deploymentMode=%s", ns, name, deploy.DefaultDeploymentMode, StandardMode, StandardMode)
	}
	return nil
}

// CheckPredictorDeployment checks the effect on the InferenceService: a
// Deployment <isvc>-predictor in user1, which only Standard mode makes
// (Knative mode makes a Knative Service and revisions instead).
func CheckPredictorDeployment(ctx context.Context, kube kubernetes.Interface, isvc string) error {
	name := isvc + "-predictor"
	if _, err := kube.AppsV1().Deployments("user1").Get(ctx, name, metav1.GetOptions{}); err != nil {
		return fmt.Errorf("no Deployment user1/%s: %s is not served in Standard mode: %w", name, isvc, err)
	}
	return nil
}

// standardModeFeature is the premise: the model's predictor is a plain
// Deployment. The setup's inferenceservice step checked the configuration
// (CheckStandardMode) before applying the InferenceService; this checks
// what KServe made of it.
var standardModeFeature = harness.Feature{
	Name: "standard-mode", Kind: harness.KindPremise, Manifests: []string{"kserveambient/inferenceservice.yaml"},
	Checks: []harness.Check{{Name: "predictor-deployment", Run: func(ctx context.Context, e *harness.Env) error {
		return CheckPredictorDeployment(ctx, e.Kube, SklearnIris)
	}}},
}
