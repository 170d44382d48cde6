package detect

import (
	"fmt"
	"strings"
)

// Policy says whether to install a component.
type Policy string

const (
	// All installs (or upgrades in place) every component the suite needs.
	All Policy = "all"
	// Missing installs only what detection did not find.
	Missing Policy = "missing"
	// None installs nothing: the cluster must already have it all.
	None Policy = "none"
)

// Step is the plan for one component.
type Step struct {
	Found
	Install bool
	Why     string
}

// Plan decides, for the components a suite needs, what to install.
func Plan(found []Found, needed []string, policyOf func(component string) Policy) []Step {
	byName := map[string]Found{}
	for _, f := range found {
		byName[f.Component] = f
	}
	var steps []Step
	for _, c := range needed {
		f, ok := byName[c]
		if !ok {
			f = Found{Component: c}
		}
		p := policyOf(c)
		s := Step{Found: f}
		switch {
		case p == None:
			s.Why = "--install=none"
		case p == Missing && f.Installed:
			s.Why = "found, --install=missing"
		default:
			s.Install = true
			s.Why = "--install=" + string(p)
		}
		steps = append(steps, s)
	}
	return steps
}

// Describe is the plan as the run states it before touching anything.
func Describe(steps []Step) string {
	var b strings.Builder
	for _, s := range steps {
		action := "use as found"
		if s.Install {
			action = "install"
		}
		seen := "nothing"
		if s.Installed {
			seen = strings.TrimPrefix(s.Found.String(), s.Component+": ")
		}
		fmt.Fprintf(&b, "  %-14s found: %-60s -> %s (%s)\n", s.Component, seen, action, s.Why)
	}
	return b.String()
}

// MissingComponents lists needed components that are neither found nor installed:
// with --install=none they make the run fail before it starts.
func MissingComponents(steps []Step) []string {
	var out []string
	for _, s := range steps {
		if !s.Install && !s.Installed {
			out = append(out, s.Component)
		}
	}
	return out
}
