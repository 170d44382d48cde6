// Package plans checks each suite's plan against its golden file,
// suites/<suite>/testdata/plan[.<mode>][.<profile>].golden: the setup steps, the
// features and every cell with its client, request and expectation,
// exactly as `--dry-run` prints them. A change of cells shows in review, a
// failing cell's name can be grepped there, and a refactoring of the
// harness or a suite must leave these files byte-identical.
// Rewrite them with: go test ./tests/plans/ -update
//
// It also checks the suites' features as declared (features_test.go): what
// a plan lists must be able to run.
package plans

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the plan golden files")

// plans are the suites and the modes each is planned in, and the setup
// profiles besides the default one (a profile's golden is
// plan.<mode>.<profile>.golden, its flag --<suite's profile flag>; the
// as-written run is --setup's).
var plans = []struct{ suite, mode, profileFlag, profile string }{
	{"baseline", "", "", ""},
	{"kservemesh", "sidecar", "", ""},
	{"kservemesh", "sidecar", "kserve-profile", "hardened"},
	{"kservemesh", "sidecar", "setup", "as-written"},
	{"kserveambient", "ambient", "", ""},
	{"kserveambient", "sidecar", "", ""},
	{"opeaistio", "ambient", "", ""},
	{"opeaistio", "ambient", "setup", "as-written"},
	{"opeaistio", "sidecar", "", ""},
}

// planOf is the dry run's plan, from its setup steps to the end of its
// features: the time budget above it depends on the binary's -timeout, and
// go test's own lines follow it.
func planOf(t *testing.T, out string) string {
	i := strings.Index(out, "setup steps:\n")
	require.GreaterOrEqual(t, i, 0, "no plan in:\n%s", out)
	plan := out[i:]
	if j := strings.Index(plan, "\n=== RUN"); j >= 0 {
		plan = plan[:j+1]
	}
	return plan
}

func TestDryRunPlansMatchTheirGoldenFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs each suite's dry run")
	}
	for _, p := range plans {
		name, golden := p.suite, filepath.Join(repoRoot(t), "suites", p.suite, "testdata", "plan.golden")
		for _, part := range []string{p.mode, p.profile} {
			if part != "" {
				name += "." + part
				golden = strings.Replace(golden, ".golden", "."+part+".golden", 1)
			}
		}
		t.Run(name, func(t *testing.T) {
			args := []string{"test", "-tags", "e2e", "-count=1", "-v", "./suites/" + p.suite + "/", "-args", "--dry-run"}
			if p.mode != "" {
				args = append(args, "--mode="+p.mode)
			}
			if p.profile != "" {
				args = append(args, "--"+p.profileFlag+"="+p.profile)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "go", args...)
			cmd.Dir = repoRoot(t)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			got := planOf(t, string(out))
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "no golden file: go test ./tests/plans/ -update writes it")
			assert.Equal(t, string(want), got, "the plan changed: review the diff, then go test ./tests/plans/ -update")
		})
	}
}

// repoRoot is the folder of go.mod.
func repoRoot(t *testing.T) string {
	dir, err := os.Getwd()
	require.NoError(t, err)
	for d := dir; filepath.Dir(d) != d; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	t.Fatal("no go.mod above " + dir)
	return ""
}
