package harness

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/e2e-framework/pkg/envconf"

	"github.com/secure-inference/mesh-conformance/tests/detect"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/redact"
	"github.com/secure-inference/mesh-conformance/tests/report"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

func TestAFailedStepNeverPrintsASecret(t *testing.T) {
	token := "hf_abcdefghijklmnopqrstuvwxyz0123"
	t.Setenv(options.HuggingFaceTokenEnv, token)
	r := &Run{Suite: "s", Opts: options.Defaults(), Report: report.NewRecorder(reportapi.Environment{}).WithRedactor(redact.New(token)), redact: redact.New(token)}
	_, err := r.setupFunc(Step{Name: "chatqna", Run: func(context.Context, *Env) error {
		return errors.New("helm: values HUGGINGFACEHUB_API_TOKEN=" + token + " rejected")
	}})(context.Background(), envconf.New())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), token, "e2e-framework prints the step's error")
	assert.Contains(t, err.Error(), redact.Redacted)
}

// Every step is handed the one Env provision built; an install step whose
// component the plan found in place does not run.
func TestEveryStepIsHandedTheRunsEnvAndFoundComponentsAreNotInstalled(t *testing.T) {
	r := &Run{Suite: "s", Opts: options.Defaults(), Report: report.NewRecorder(reportapi.Environment{}),
		plan: map[string]detect.Step{detect.Istio: {Found: detect.Found{Component: detect.Istio, Installed: true, Version: "1.27.1"}, Why: "found in place"}}}
	r.stepEnv = r.env()
	var handed []*Env
	run := func(_ context.Context, e *Env) error {
		handed = append(handed, e)
		return nil
	}
	for _, st := range []Step{{Name: "istio", Component: detect.Istio, Run: run}, {Name: "auth", Run: run}} {
		_, err := r.setupFunc(st)(context.Background(), envconf.New())
		require.NoError(t, err)
	}
	assert.Equal(t, []*Env{r.stepEnv}, handed, "auth ran with the run's Env; istio, found, did not run")
	assert.Equal(t, []string{"auth"}, r.installed)
}
