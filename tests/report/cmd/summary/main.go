// Command summary aggregates every report.yaml under a directory (the
// nightly matrix's artifacts) into one Markdown table; it exits 1 when a
// suite failed or no report was found, and 2 on bad usage.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/secure-inference/mesh-conformance/tests/report"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: summary DIR   (the directory holding the runs' report.yaml files)")
		return 2
	}
	if info, err := os.Stat(args[0]); err != nil || !info.IsDir() {
		fmt.Fprintf(stderr, "summary: %s is not a directory of reports: %v\n", args[0], err)
		return 2
	}
	table, failed, err := report.Summarize(args[0])
	if err != nil {
		fmt.Fprintln(stderr, "summary:", err)
		return 1
	}
	fmt.Fprint(stdout, table)
	if failed {
		return 1
	}
	return 0
}
