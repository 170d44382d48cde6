package harness

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/options"
)

// deviating is a suite with a step every run has, a step of the hardened
// profile only and a cleanup feature, each with a deviation.
func deviating() *Suite {
	return &Suite{Name: "s",
		Steps: func(o options.Options) []Step {
			steps := []Step{{Name: "auth"}}
			if o.KServeProfile == options.KServeHardened {
				steps = append(steps, Step{Name: "hardened-policies"})
			}
			return steps
		},
		Features: []Feature{{Name: "cleanup", Kind: KindCleanup, Matrices: Fixed()}},
		Deviations: []Deviation{
			{Name: "valid-yaml", Step: "auth", Document: "a snippet", Suite: "a chart value", Source: "FACTS.md"},
			{Name: "activator-policies", Step: "hardened-policies", Document: "nothing", Suite: "policies", Source: "chart"},
			{Name: "delete-not-apply", Step: "cleanup", Document: "apply", Suite: "delete", Source: "FACTS.md"},
		}}
}

// Every deviation points at a setup step or feature the suite has under
// some of its options: a renamed step, a step of options not checked, or
// a deviation without its source fails.
func TestCheckDeviationsKeepsTheStepNamesReal(t *testing.T) {
	s := deviating()
	require.NoError(t, s.CheckDeviations(withProfiles(options.Defaults(), options.KServeProfiles...)...))

	err := s.CheckDeviations(withProfiles(options.Defaults(), options.KServeDocumented)...)
	require.Error(t, err, "the hardened step exists under the hardened profile only")
	assert.Equal(t, `deviation activator-policies: no step or feature "hardened-policies" in suite s`, err.Error())

	s.Deviations[0].Step = "auth-renamed"
	s.Deviations[2].Source = ""
	err = s.CheckDeviations(withProfiles(options.Defaults(), options.KServeProfiles...)...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `deviation valid-yaml: no step or feature "auth-renamed"`)
	assert.Contains(t, err.Error(), `deviation "delete-not-apply" (step cleanup): name, document, suite and source are all needed`)

	s = deviating()
	s.Deviations = append(s.Deviations, s.Deviations[0])
	assert.ErrorContains(t, s.CheckDeviations(withProfiles(options.Defaults(), options.KServeProfiles...)...), "deviation valid-yaml: declared twice for step auth")
}

// A run reports the deviations of its own steps and features: a profile's
// step brings its own; --dry-run prints them above the setup steps.
func TestARunsDeviationsAreThoseOfItsSteps(t *testing.T) {
	s := deviating()
	for _, c := range []struct {
		profile options.KServeProfile
		want    []string
	}{
		{options.KServeDocumented, []string{"valid-yaml", "delete-not-apply"}},
		{options.KServeHardened, []string{"valid-yaml", "activator-policies", "delete-not-apply"}},
	} {
		o := withProfiles(options.Defaults(), c.profile)[0]
		var names []string
		for _, d := range s.deviations(o, s.Steps(o)) {
			names = append(names, d.Name)
		}
		assert.Equal(t, c.want, names, "profile %s", c.profile)

		r := &Run{Suite: "s", Opts: o}
		var out bytes.Buffer
		require.NoError(t, s.plan(&out, r, s.Steps(o)))
		plan := out.String()
		assert.Contains(t, plan, "  - valid-yaml (auth): the document: a snippet; the suite: a chart value; source: FACTS.md\n")
		assert.Equal(t, c.profile == options.KServeHardened, strings.Contains(plan, "activator-policies (hardened-policies)"))
		assert.Less(t, strings.Index(plan, "deviations from the document"), strings.Index(plan, "setup steps:"),
			"above the setup steps, where the plan goldens start")
	}
}

// The report's provenance carries the run's deviations.
func TestProvenanceCarriesTheRunsDeviations(t *testing.T) {
	r := NewRun(deviating())
	r.Opts = withProfiles(options.Defaults(), options.KServeDocumented)[0]
	var names []string
	for _, d := range r.provenance().Deviations {
		names = append(names, d.Name+" "+d.Step)
	}
	assert.Equal(t, []string{"valid-yaml auth", "delete-not-apply cleanup"}, names)
}
