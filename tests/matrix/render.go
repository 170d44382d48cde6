package matrix

import (
	"fmt"
	"strings"
	"text/tabwriter"
)

// Plan renders the cells as a run would probe them: client, request and
// expectation, as the report names them, with each expectation's note.
func (m Matrix) Plan() string {
	var b strings.Builder
	fmt.Fprintf(&b, "matrix %s:\n", m.Name)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  CELL\tFROM\tREQUEST\tEXPECTED")
	for _, c := range m.Cells {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Name, c.Client.Name, c.Request, c.Expect)
	}
	tw.Flush()
	for _, c := range m.Cells {
		if c.Expect.Note != "" {
			fmt.Fprintf(&b, "  note %s: %s\n", c.Name, c.Expect.Note)
		}
	}
	return b.String()
}

// Table renders expected against observed, one row per cell, followed by the
// evidence of every failing cell.
func (r Result) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "matrix %s: %d rounds in %s\n", r.Matrix, r.Rounds, r.Duration.Round(1e6))
	if r.Err != nil {
		fmt.Fprintf(&b, "NOT RUN: %v\n", r.Err)
	}
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CELL\tFROM\tREQUEST\tEXPECTED\tOBSERVED\tATTEMPTS\tRESULT")
	for _, c := range r.Cells {
		verdict := "PASS"
		switch {
		case c.EnvironmentError:
			verdict = "ENV-ERROR"
		case !c.Passed:
			verdict = "FAIL"
		}
		observed := "-"
		if c.Attempts > 0 {
			observed = c.Last.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", c.Name, c.Client.Name, c.Request, c.Expect, observed, c.Attempts, verdict)
	}
	tw.Flush()
	for _, c := range r.Cells {
		if note := c.Expect.Note; c.Passed && note != "" {
			fmt.Fprintf(&b, "note %s: %s\n", c.Name, note)
		}
	}
	for _, c := range r.Failed() {
		fmt.Fprintf(&b, "FAIL %s: %s\n  evidence: %s\n", c.Name, c.Reason, c.Last.Detail())
	}
	return b.String()
}
