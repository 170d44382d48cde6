// Command summary aggregates every report.yaml under a directory (the
// nightly matrix's artifacts) into one Markdown table; it exits 1 when a
// suite failed or no report was found.
package main

import (
	"fmt"
	"os"

	"github.com/secure-inference/mesh-conformance/tests/report"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: summary DIR")
		os.Exit(2)
	}
	table, failed, err := report.Summarize(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "summary:", err)
		os.Exit(1)
	}
	fmt.Print(table)
	if failed {
		os.Exit(1)
	}
}
