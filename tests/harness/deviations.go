package harness

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/secure-inference/mesh-conformance/tests/options"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// Deviation is one place where a suite does not do what its document
// says: a correction (docs/FACTS.md lists them) or an addition. A suite
// declares its deviations as data (Suite.Deviations); a run's report
// carries those of its own steps in its provenance, and --dry-run prints
// them. It is the report's type: what a suite declares is what a report
// says.
type Deviation = reportapi.Deviation

// deviations are the suite's deviations that concern a run with these
// options: their step is one of the run's setup steps or features (a
// profile's or mode's own step has its own deviations).
func (s *Suite) deviations(o options.Options, steps []Step) []Deviation {
	names := s.stepNames(o, steps)
	var out []Deviation
	for _, d := range s.Deviations {
		if slices.Contains(names, d.Step) {
			out = append(out, d)
		}
	}
	return out
}

// stepNames are the names a deviation may point at under these options:
// the setup steps, then the features that apply.
func (s *Suite) stepNames(o options.Options, steps []Step) []string {
	var names []string
	for _, st := range steps {
		names = append(names, st.Name)
	}
	for _, f := range s.features(o) {
		names = append(names, f.Name)
	}
	return names
}

// CheckDeviations says which deviations point at no setup step and no
// feature of the suite under any of the options (a step renamed or
// removed, a misspelt name), and which lack what a reader needs; each
// suite's unit test calls it with every mode and profile it has.
func (s *Suite) CheckDeviations(opts ...options.Options) error {
	var known []string
	for _, o := range opts {
		known = append(known, s.stepNames(o, s.Steps(o))...)
	}
	var errs []error
	seen := map[string]bool{}
	for _, d := range s.Deviations {
		if !slices.Contains(known, d.Step) {
			errs = append(errs, fmt.Errorf("deviation %s: no step or feature %q in suite %s", d.Name, d.Step, s.Name))
		}
		if d.Name == "" || d.Document == "" || d.Suite == "" || d.Source == "" {
			errs = append(errs, fmt.Errorf("deviation %q (step %s): name, document, suite and source are all needed", d.Name, d.Step))
		}
		if seen[d.Name+"/"+d.Step] {
			errs = append(errs, fmt.Errorf("deviation %s: declared twice for step %s", d.Name, d.Step))
		}
		seen[d.Name+"/"+d.Step] = true
	}
	return errors.Join(errs...)
}

// planDeviations prints the run's deviations as --dry-run shows them.
func planDeviations(w io.Writer, ds []Deviation) {
	if len(ds) == 0 {
		return
	}
	fmt.Fprintf(w, "\ndeviations from the document (%d; in the report's provenance):\n", len(ds))
	for _, d := range ds {
		fmt.Fprintf(w, "  - %s (%s): the document: %s; the suite: %s; source: %s\n", d.Name, d.Step, d.Document, d.Suite, d.Source)
	}
}
