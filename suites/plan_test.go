// Package suites_test holds each suite's plan as a golden file: the setup
// steps, the features and every cell with its client, request and
// expectation, exactly as `--dry-run` prints them. A change of cells shows
// in review, a failing cell's name can be grepped here, and a refactoring
// of the harness or a suite must leave these files byte-identical.
// Rewrite them with: go test ./suites/ -update
package suites_test

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

// plans are the suites and the modes each is planned in.
var plans = []struct{ suite, mode string }{
	{"baseline", ""},
	{"kservemesh", "sidecar"},
	{"opeaistio", "ambient"},
	{"opeaistio", "sidecar"},
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
		name := p.suite
		if p.mode != "" {
			name += "." + p.mode
		}
		t.Run(name, func(t *testing.T) {
			args := []string{"test", "-count=1", "-v", "./" + p.suite + "/", "-args", "--dry-run"}
			if p.mode != "" {
				args = append(args, "--mode="+p.mode)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "go", args...)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			got := planOf(t, string(out))
			golden := filepath.Join("testdata", name+".plan.golden")
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "no golden file: go test ./suites/ -update writes it")
			assert.Equal(t, string(want), got, "the plan changed: review the diff, then go test ./suites/ -update")
		})
	}
}
