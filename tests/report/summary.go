package report

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// Summarize aggregates every report under dir (the nightly matrix's
// artifacts, or make e2e's runs of several suites and modes) into one
// Markdown table, and says whether any suite failed; the runs of a
// document as written get a table of their own below, and fail nothing. Counts are
// passed/failed/skipped features; the last column is the report's path
// under dir. Below the table, each suite that has them gets its security
// evidence: the controls' times to open and to revoke, the fail-closed
// disruptions, the findings (cold starts, restarts) and the attack surface
// per protected workload.
func Summarize(dir string) (string, bool, error) {
	// written are the as-written runs' rows: findings about the
	// documents, apart, failing nothing.
	var rows, written, evidences []string
	failed := false
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != FileName {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var rep reportapi.Report
		if err := yaml.Unmarshal(data, &rep); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if rep.APIVersion != reportapi.APIVersion {
			return fmt.Errorf("%s: report version %q, this summary reads %q", p, rep.APIVersion, reportapi.APIVersion)
		}
		for _, s := range rep.Suites {
			var bad []string
			for _, m := range s.Matrices {
				for _, c := range m.Cells {
					if c.Result != reportapi.Success {
						bad = append(bad, c.Name)
					}
				}
			}
			for _, c := range s.Checks {
				if c.Result == reportapi.Failure {
					bad = append(bad, c.Name)
				}
			}
			for _, f := range s.Features {
				if f.Result == reportapi.Failure && !slices.Contains(bad, f.Name) {
					bad = append(bad, f.Name)
				}
			}
			ext := "-"
			if s.Extended != nil {
				ext = counts(s.Extended.Statistics)
			}
			rel, _ := filepath.Rel(dir, p)
			row := fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", s.Name, rep.Environment.Mode,
				istioVersion(rep.Environment), rep.Environment.KubernetesVersion, s.Result, counts(s.Core.Statistics), ext,
				strings.Join(bad, ", "), strings.Join(s.Core.SkippedFeatures, ", "), rel)
			if rep.Environment.AsWritten {
				written = append(written, row)
				continue
			}
			failed = failed || s.Result == reportapi.Failure
			rows = append(rows, row)
			if e := profileCells(s, rep.Environment.Profile) + evidence(s); e != "" {
				evidences = append(evidences, fmt.Sprintf("### %s (%s), %s\n\n%s", s.Name, rep.Environment.Mode, rel, e))
			}
		}
		return nil
	})
	if err != nil {
		return "", true, err
	}
	sort.Strings(rows)
	sort.Strings(written)
	const header = "| suite | mode | istio | kubernetes | result | core | extended | failed | core skipped | report |\n|---|---|---|---|---|---|---|---|---|---|\n"
	var b strings.Builder
	b.WriteString(header)
	for _, r := range rows {
		b.WriteString(r + "\n")
	}
	if len(rows) == 0 {
		b.WriteString("| (no reports found) | | | | | | | | | |\n")
		failed = true
	}
	if len(written) > 0 {
		b.WriteString("\nThe documents as written (--setup=as-written): findings about the documents, not conformance verdicts; they fail nothing.\n\n" + header)
		for _, r := range written {
			b.WriteString(r + "\n")
		}
	}
	sort.Strings(evidences)
	for _, e := range evidences {
		b.WriteString("\n" + e)
	}
	return b.String(), failed, nil
}

// evidence renders a suite's security evidence as Markdown tables; empty
// when it has none.
func evidence(s reportapi.Suite) string {
	var b strings.Builder
	if len(s.Timings) > 0 {
		b.WriteString("| control | time to open, median / max (s) | time to revoke, median / max (s) | samples | resolution (s) | result |\n|---|---|---|---|---|---|\n")
		for _, t := range s.Timings {
			fmt.Fprintf(&b, "| %s | %.1f / %.1f | %.1f / %.1f | %d | %g | %s |\n", t.Control, t.MedianOpen, t.MaxOpen,
				t.MedianRevoke, t.MaxRevoke, max(len(t.OpenSeconds), len(t.RevokeSeconds)), t.ResolutionSeconds, orDash(string(t.Result)))
		}
		b.WriteString("\n")
	}
	if len(s.Disruptions) > 0 {
		b.WriteString("| disruption | result | refused cells answering 2xx | allowed cells down, longest (s) | restored |\n|---|---|---|---|---|\n")
		for _, d := range s.Disruptions {
			longest := 0.0
			for _, a := range d.Allowed {
				longest = max(longest, a.DowntimeSeconds)
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %.1f | %v |\n", d.Name, d.Result, len(d.Breaches), longest, d.Restored)
		}
		b.WriteString("\n")
	}
	if len(s.Findings) > 0 {
		// Observations without a verdict that a reader must see: what a
		// refused caller got while a model was cold or restarting.
		b.WriteString("| finding | feature | observed | seconds |\n|---|---|---|---|\n")
		for _, f := range s.Findings {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", cell(f.Name), orDash(f.Feature), cell(f.Observed), orDash(seconds(f.Seconds)))
		}
		b.WriteString("\n")
	}
	if len(s.AttackSurfaces) > 0 {
		verdicts := []string{reportapi.SurfaceRefused, reportapi.SurfaceReachable, reportapi.SurfaceFailed,
			reportapi.SurfaceInformational, reportapi.SurfaceNotObserved}
		b.WriteString("| workload | probes | " + strings.Join(verdicts, " | ") + " |\n|---|---|---|---|---|---|---|\n")
		for _, a := range s.AttackSurfaces {
			n := map[string]int{}
			for _, r := range a.Rows {
				n[r.Verdict]++
			}
			fmt.Fprintf(&b, "| %s/%s | %d |", a.Namespace, a.Workload, len(a.Rows))
			for _, v := range verdicts {
				fmt.Fprintf(&b, " %d |", n[v])
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// profileCells puts a suite's setup profiles side by side on the cells
// whose expectation differs between them (what a profile buys), with what
// this run, under profile, observed of each; empty when the suite has one
// setup.
func profileCells(s reportapi.Suite, profile string) string {
	if len(s.ProfileCells) == 0 {
		return ""
	}
	var names []string
	for _, c := range s.ProfileCells {
		for p := range c.Expected {
			if !slices.Contains(names, p) {
				names = append(names, p)
			}
		}
	}
	sort.Strings(names)
	observed := map[[2]string]reportapi.Cell{}
	for _, m := range s.Matrices {
		for _, c := range m.Cells {
			observed[[2]string{m.Name, c.Name}] = c
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Cells whose expectation differs between the setup profiles (this run: %s):\n\n| cell | from |", orDash(profile))
	for _, p := range names {
		fmt.Fprintf(&b, " expected, %s |", p)
	}
	fmt.Fprintf(&b, " observed (%s) | result |\n|---|---|%s---|---|\n", orDash(profile), strings.Repeat("---|", len(names)))
	for _, c := range s.ProfileCells {
		fmt.Fprintf(&b, "| %s/%s | %s |", c.Matrix, c.Cell, c.Client)
		for _, p := range names {
			fmt.Fprintf(&b, " %s |", cell(orDash(c.Expected[p])))
		}
		got, ok := observed[[2]string{c.Matrix, c.Cell}]
		if !ok {
			b.WriteString(" - | not run |\n")
			continue
		}
		fmt.Fprintf(&b, " %s | %s |\n", cell(got.Observed), got.Result)
	}
	b.WriteString("\n")
	return b.String()
}

// cell keeps a value inside its Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}

// seconds renders named timings as "name=1.2", in name order.
func seconds(m map[string]float64) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		out = append(out, fmt.Sprintf("%s=%.1f", n, m[n]))
	}
	return strings.Join(out, " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// counts renders statistics as passed/failed/skipped.
func counts(st reportapi.Statistics) string {
	return fmt.Sprintf("%d/%d/%d", st.Passed, st.Failed, st.Skipped)
}

// istioVersion is the Istio a report ran on, marked when the run used an
// Istio it found rather than the one it installed.
func istioVersion(env reportapi.Environment) string {
	v := env.Versions["istio"]
	if env.Sources["istio"] == reportapi.Found {
		v += " (found)"
	}
	return v
}
