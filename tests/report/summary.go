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
// Markdown table, and says whether any suite failed. Counts are
// passed/failed/skipped features; the last column is the report's path
// under dir.
func Summarize(dir string) (string, bool, error) {
	var rows []string
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
			failed = failed || s.Result == reportapi.Failure
			ext := "-"
			if s.Extended != nil {
				ext = counts(s.Extended.Statistics)
			}
			rel, _ := filepath.Rel(dir, p)
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", s.Name, rep.Environment.Mode,
				rep.Environment.Versions["istio"], rep.Environment.KubernetesVersion, s.Result, counts(s.Core.Statistics), ext,
				strings.Join(bad, ", "), strings.Join(s.Core.SkippedFeatures, ", "), rel))
		}
		return nil
	})
	if err != nil {
		return "", true, err
	}
	sort.Strings(rows)
	var b strings.Builder
	b.WriteString("| suite | mode | istio | kubernetes | result | core | extended | failed | core skipped | report |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		b.WriteString(r + "\n")
	}
	if len(rows) == 0 {
		b.WriteString("| (no reports found) | | | | | | | | | |\n")
		failed = true
	}
	return b.String(), failed, nil
}

// counts renders statistics as passed/failed/skipped.
func counts(st reportapi.Statistics) string {
	return fmt.Sprintf("%d/%d/%d", st.Passed, st.Failed, st.Skipped)
}
