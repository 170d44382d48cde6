package bypass

import (
	"fmt"
	"strings"

	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// Verdicts of an attack-surface row.
const (
	// Refused: the port refused the caller, in any of the ways
	// matrix.AnyRefusal accepts (a passed cell).
	Refused = "refused"
	// Reachable: the workload or something on the port answered the
	// caller: a bypass of the policy (a failed cell).
	Reachable = "REACHABLE"
	// Failed: a failed cell that is no plain answer: a refusal whose body
	// names a protected model, or an outcome that is neither (a timeout).
	Failed = "failed"
	// NotObserved: the environment kept the probe from running enough
	// (no verdict either way).
	NotObserved = "not-observed"
	// Informational: a documented plaintext port; what it answered is a
	// finding.
	Informational = "informational"
)

// Row is one line of a workload's attack-surface table.
type Row struct {
	Workload  string
	Namespace string
	Pod       string
	PodIP     string
	Port      Port
	From      string
	Request   string
	Observed  string
	Verdict   string
	// Reveals are the protected names the answer's body holds.
	Reveals []string
	// Reason says why a failed cell failed.
	Reason   string
	Evidence probe.Evidence
}

// Surface is the attack-surface table: one row per cell of both matrices,
// in the plan's order (enforced, then informational).
func (p Plan) Surface(enforced, informational matrix.Result) []Row {
	var rows []Row
	for _, res := range []matrix.Result{enforced, informational} {
		for _, c := range res.Cells {
			pr, ok := p.Probes[c.Name]
			if !ok {
				continue
			}
			row := Row{Workload: pr.Target.Workload, Namespace: pr.Target.Namespace, Pod: pr.Pod.Name, PodIP: pr.Pod.IP, Port: pr.Port,
				From: c.Client.Name, Request: c.Request.String(), Observed: "-", Evidence: c.Last.Evidence}
			if c.Attempts > 0 {
				row.Observed = c.Last.String()
				row.Reveals = matrix.Named(c.Last, pr.Target.Models)
			}
			switch {
			case c.Expect.Kind == matrix.Observed && c.Passed:
				row.Verdict = Informational
			case c.Passed && res.Err == nil:
				row.Verdict = Refused
			case c.EnvironmentError || c.Attempts == 0 || res.Err != nil:
				row.Verdict, row.Reason = NotObserved, c.Reason
				if res.Err != nil {
					row.Reason = res.Err.Error()
				}
			case c.Last.Kind == probe.KindHTTP && !refusal(c.Last):
				row.Verdict, row.Reason = Reachable, c.Reason
			default:
				row.Verdict, row.Reason = Failed, c.Reason
			}
			rows = append(rows, row)
		}
	}
	return rows
}

func refusal(o probe.Outcome) bool {
	ok, _ := matrix.Expect(matrix.AnyRefusal).Match(o)
	return ok
}

// Reveal says what an informational answer shows of the protected names:
// the finding's text. Searched names that the body lacks are said to be
// absent only when the whole body was searched (the request's Find).
func Reveal(o probe.Outcome, models []string, searched bool) string {
	named := matrix.Named(o, models)
	switch {
	case o.Kind != probe.KindHTTP:
		return "no answer"
	case len(named) > 0:
		return "names " + strings.Join(named, ", ")
	case len(models) == 0:
		return "no protected names to look for"
	case searched:
		return fmt.Sprintf("names none of %s (whole body searched)", strings.Join(models, ", "))
	default:
		return fmt.Sprintf("names none of %s in the first %d bytes", strings.Join(models, ", "), len(o.Body))
	}
}
