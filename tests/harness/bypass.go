package harness

import (
	"context"
	"fmt"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/secure-inference/mesh-conformance/tests/bypass"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// Bypass makes f the bypass-paths feature of a suite (kind matrix): every
// port of each target's pods, probed by pod IP from each client. A refusal
// is expected everywhere but on the mesh's documented plaintext ports,
// whose answers are findings (with whether they name a protected model); a
// refusal must not name the models. Each target's attack-surface table
// goes to the report. The cells are built from the pods (Facts.Pods): the
// live ones in a run, each target's check <name>/<workload>-pods; the
// targets' sketched pods, with placeholder IPs, in a dry run.
func Bypass(f Feature, matrixName string, targets []bypass.Target, clients []matrix.Client) Feature {
	f.Kind = KindMatrix
	f.Matrices = func(ctx context.Context, _ options.Options, facts Facts) ([]matrix.Matrix, error) {
		p, _ := bypassPlan(ctx, facts, matrixName, targets, clients, func(string, error) {})
		out := []matrix.Matrix{p.Enforced}
		if len(p.Informational.Cells) > 0 {
			out = append(out, p.Informational)
		}
		return out, nil
	}
	f.body = func(r *Run, b *features.FeatureBuilder) *features.FeatureBuilder {
		return b.Assess("every-port-refuses-but-the-documented-plaintext-ones", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			plan, ok := bypassPlan(ctx, r.env(), matrixName, targets, clients, func(workload string, err error) {
				r.Check(ctx, t, f.Name+"/"+workload+"-pods", err)
			})
			if ok {
				r.bypassPaths(ctx, t, f.Name, plan)
			}
			return ctx
		})
	}
	return f
}

// bypassPlan builds the cells from the targets' pods; a target whose pods
// could not be listed is left out (check says why, for each target). ok:
// some target's pods were found.
func bypassPlan(ctx context.Context, facts Facts, matrixName string, targets []bypass.Target, clients []matrix.Client,
	check func(workload string, err error)) (plan bypass.Plan, ok bool) {
	var tps []bypass.TargetPods
	for _, tg := range targets {
		pods, err := facts.Pods(ctx, tg)
		check(tg.Workload, err)
		if err == nil {
			tps = append(tps, bypass.TargetPods{Target: tg, Pods: pods})
		}
	}
	return bypass.Build(matrixName, tps, clients), len(tps) > 0
}

// bypassPaths probes a bypass plan: the enforced matrix is judged as any
// matrix is; the informational probes converge on one round each (any
// answer is what they record) and become findings; an informational probe
// the environment kept from running fails a check, since its port was then
// not looked at.
func (r *Run) bypassPaths(ctx context.Context, t *testing.T, name string, plan bypass.Plan) {
	t.Helper()
	enforced := r.Matrix(ctx, t, plan.Enforced)
	var info matrix.Result
	if len(plan.Informational.Cells) > 0 {
		s := Settings(r.Opts.Timeouts)
		s.RequiredConsecutiveSuccesses = 1
		info = matrix.Run(ctx, plan.Informational, r.Exec, r.Resolve, s)
		r.Check(ctx, t, name+"/informational-observed", informationalErr(info))
		for _, f := range BypassFindings(name, plan, info) {
			r.scope(ctx).Finding(f)
		}
	}
	for _, s := range AttackSurfaces(plan.Surface(enforced, info)) {
		r.scope(ctx).AttackSurface(s)
	}
}

func informationalErr(res matrix.Result) error {
	if res.Err != nil {
		return fmt.Errorf("the documented plaintext ports were not observed: %w", res.Err)
	}
	var missed []string
	for _, c := range res.Failed() {
		missed = append(missed, c.Name+" ("+c.Reason+")")
	}
	if len(missed) > 0 {
		return fmt.Errorf("documented plaintext ports not observed: %v", missed)
	}
	return nil
}

// BypassFindings are the informational probes' answers: what each
// documented plaintext port told a caller, and whether it named a model.
func BypassFindings(name string, plan bypass.Plan, info matrix.Result) []reportapi.Finding {
	var out []reportapi.Finding
	for _, c := range info.Cells {
		pr, ok := plan.Probes[c.Name]
		if !ok || c.Attempts == 0 {
			continue
		}
		out = append(out, reportapi.Finding{Name: name + "/" + c.Name, Client: c.Client.Name, Request: c.Request.String(),
			Observed: c.Last.String() + "; " + bypass.Reveal(c.Last, pr.Target.Models, len(c.Request.Find) > 0),
			Note:     c.Expect.Note + "; source: " + pr.Port.Source,
			Evidence: ReportEvidence(c.Last.Evidence)})
	}
	return out
}

// AttackSurfaces groups the rows into one table per workload, in the
// rows' order.
func AttackSurfaces(rows []bypass.Row) []reportapi.AttackSurface {
	var out []reportapi.AttackSurface
	index := map[string]int{}
	for _, r := range rows {
		key := r.Namespace + "/" + r.Workload
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, reportapi.AttackSurface{Workload: r.Workload, Namespace: r.Namespace})
		}
		out[i].Rows = append(out[i].Rows, reportapi.SurfaceRow{Pod: r.Pod, PodIP: r.PodIP, Port: r.Port.Number, Container: r.Port.Container,
			Purpose: r.Port.Purpose, Source: r.Port.Source, From: r.From, Request: r.Request, Observed: r.Observed, Verdict: r.Verdict,
			Reveals: r.Reveals, Reason: r.Reason})
	}
	return out
}
