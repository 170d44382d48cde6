package options

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Usage is the suite's own short usage: its flags, one line each, and
// where the framework's flags are documented. It replaces Go's default,
// which lists about a hundred flags (klog's and the testing package's) and
// ends in a panic on e2e-framework's feature-gates flag.
func Usage(w io.Writer, suite string) func() {
	return func() {
		o := Defaults()
		fs := flag.NewFlagSet(suite, flag.ContinueOnError)
		Register(fs, &o)
		fmt.Fprintf(w, "usage: go test -tags e2e ./suites/%s/ -args [flags]   (make e2e ARGS=\"[flags]\")\n", suite)
		for _, g := range FlagGroups {
			fmt.Fprintf(w, "\n%s:\n", g.Title)
			for _, name := range g.Flags {
				f := fs.Lookup(name)
				def := ""
				if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" && f.DefValue != "[]" {
					def = " (default " + f.DefValue + ")"
				}
				fmt.Fprintf(w, "  --%-34s %s%s\n", f.Name, f.Usage, def)
			}
		}
		fmt.Fprintln(w, "\nalso e2e-framework's --kubeconfig, --context, --feature, --assess, --labels, --skip-features, --dry-run, --fail-fast;")
		fmt.Fprintln(w, "every flag is also a config file key (--config): see docs/flags.md")
	}
}

// FlagGroups orders the flags as docs/flags.md's tables do: what a
// first run needs first. Every flag is in exactly one group (a test says
// so).
var FlagGroups = []struct {
	Title string
	Flags []string
}{
	{"run", []string{"config", "mode", "list-modes", "output-dir"}},
	{"features", []string{"supported-features", "all-features", "exempt-features", "ingress-address"}},
	{"cluster", []string{"cluster-name", "kind-config", "keep-cluster", "image-archive", "node-image"}},
	{"what is installed", []string{"install", "chart-source", "image", "istio-version", "cert-manager-version", "gateway-api-version",
		"knative-version", "kserve-version", "chatqna-version", "chatqna-profile", "chatqna-model-pvc", "kserve-profile", "setup"}},
	{"probing and timing", []string{"request-timeout", "max-time-to-consistency", "required-consecutive-successes", "round-interval",
		"control-repeats", "max-time-to-revoke", "cold-start-repeats", "cold-start-timeout"}},
	{"limits of waits", []string{"install-timeout", "ready-timeout", "inference-service-ready-timeout", "cluster-timeout", "cluster-lock-timeout", "host-lock-timeout"}},
	{"report: the implementation under test", []string{"organization", "project", "url", "version", "contact"}},
}

// UnknownFlag finds the first argument that names no flag of fs and says
// so, with the nearest flag it does have; "" when every flag is known.
// Values after "--" and arguments that are not flags are not looked at.
func UnknownFlag(fs *flag.FlagSet, args []string) string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	for _, a := range args {
		if a == "--" {
			return ""
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "" || fs.Lookup(name) != nil || name == "h" || name == "help" {
			continue
		}
		msg := fmt.Sprintf("unknown flag --%s", name)
		if near := Nearest(name, names); near != "" {
			msg += fmt.Sprintf("; did you mean --%s?", near)
		}
		return msg
	}
	return ""
}

// Nearest is the name closest to s by edit distance, if close enough to be
// a misspelling of it (at most one edit per three letters, at least one);
// "" otherwise.
func Nearest(s string, names []string) string {
	best, bestD := "", -1
	for _, n := range names {
		if d := distance(s, n); bestD < 0 || d < bestD {
			best, bestD = n, d
		}
	}
	if bestD < 0 || bestD > max(1, len(s)/3) {
		return ""
	}
	return best
}

// distance is the edit distance of a and b, a swap of two neighbouring
// letters counting as one edit (optimal string alignment): "moed" is one
// edit from "mode".
func distance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
