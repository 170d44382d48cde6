package harness

import (
	"fmt"

	"github.com/secure-inference/mesh-conformance/tests/options"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// ProfileCells are the cells whose expectation differs between the
// suite's setup profiles (Suite.Profiles), with the expectation under each:
// every profile's features' matrices as --dry-run builds them (the
// cluster's facts are placeholders, the same under every profile), keyed
// by matrix and cell. A cell only some profiles have (a profile's own
// control) is not a difference of expectation and is left out. Nil for a
// suite with one setup. The order is the first profile's plan order.
func (s *Suite) ProfileCells(o options.Options) ([]reportapi.ProfileCell, error) {
	if s.Profiles == nil {
		return nil, nil
	}
	type key struct{ matrix, cell string }
	var order []key
	cells := map[key]*reportapi.ProfileCell{}
	runs := s.Profiles(o)
	for i, po := range runs {
		profile := s.profile(po)
		for _, f := range s.features(po) {
			ms, err := f.planned(po)
			if err != nil {
				return nil, fmt.Errorf("profile %s: feature %s: matrices: %w", profile, f.Name, err)
			}
			for _, m := range ms {
				for _, c := range m.Cells {
					k := key{m.Name, c.Name}
					pc, ok := cells[k]
					if !ok {
						if i > 0 {
							continue // not in the first profile: not in every one
						}
						pc = &reportapi.ProfileCell{Matrix: m.Name, Cell: c.Name, Client: c.Client.Name, Request: c.Request.String(), Expected: map[string]string{}}
						cells[k] = pc
						order = append(order, k)
					}
					pc.Expected[profile] = c.Expect.String()
				}
			}
		}
	}
	var out []reportapi.ProfileCell
	for _, k := range order {
		pc := cells[k]
		if len(pc.Expected) == len(runs) && differs(pc.Expected) {
			out = append(out, *pc)
		}
	}
	return out, nil
}

// differs tells whether the expectations are not all the same.
func differs(byProfile map[string]string) bool {
	seen := map[string]bool{}
	for _, e := range byProfile {
		seen[e] = true
	}
	return len(seen) > 1
}
