// Command summary aggregates every report.yaml under a directory (the
// nightly matrix's artifacts) into one Markdown table.
package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/secure-inference/mesh-conformance/tests/report"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: summary DIR")
		os.Exit(2)
	}
	var rows []string
	failed := false
	err := filepath.WalkDir(os.Args[1], func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != report.FileName {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var rep report.Report
		if err := yaml.Unmarshal(data, &rep); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if rep.APIVersion != report.APIVersion {
			return fmt.Errorf("%s: report version %q, this summary reads %q", p, rep.APIVersion, report.APIVersion)
		}
		for _, s := range rep.Suites {
			var bad []string
			for _, m := range s.Matrices {
				for _, c := range m.Cells {
					if c.Result != report.Success {
						bad = append(bad, c.Name)
					}
				}
			}
			for _, c := range s.Checks {
				if c.Result == report.Failure {
					bad = append(bad, c.Name)
				}
			}
			failed = failed || s.Result == report.Failure
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %s | %s |", s.Name, rep.Environment.Mode,
				rep.Environment.Versions["istio"], rep.Environment.KubernetesVersion, s.Result, strings.Join(bad, ", ")))
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "summary:", err)
		os.Exit(1)
	}
	sort.Strings(rows)
	fmt.Println("| suite | mode | istio | kubernetes | result | failed |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Println(r)
	}
	if len(rows) == 0 {
		fmt.Println("| (no reports found) | | | | | |")
	}
	if failed {
		os.Exit(1)
	}
}
