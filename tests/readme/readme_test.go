// Package readme runs the README's go test commands as a user types them:
// a command that shows something must show it as written (go test hides a
// passing package's output without -v), and a command that runs a suite
// must carry a -timeout that the suite's own time budget accepts (go
// test's default of 10 minutes kills a real run with no teardown).
package readme

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repoRoot is the folder of go.mod, where the README's commands run.
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

// goTestCommands are the README's `go test` lines in sh blocks, without
// their trailing comments.
func goTestCommands(t *testing.T, readme string) []string {
	f, err := os.Open(readme)
	require.NoError(t, err)
	defer f.Close()
	var cmds []string
	inSh := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```sh"):
			inSh = true
		case strings.HasPrefix(line, "```"):
			inSh = false
		case inSh && strings.HasPrefix(line, "go test "):
			if i := strings.Index(line, " #"); i > 0 {
				line = line[:i]
			}
			cmds = append(cmds, strings.TrimSpace(line))
		}
	}
	require.NoError(t, sc.Err())
	return cmds
}

var suitePackages = regexp.MustCompile(`\./suites/(\w+|\.\.\.)/?`)

func TestREADMEGoTestCommandsRunAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on the suites")
	}
	root := repoRoot(t)
	cmds := goTestCommands(t, filepath.Join(root, "README.md"))
	require.NotEmpty(t, cmds, "the README shows how to run the suites")
	config := filepath.Join(t.TempDir(), "my-run.yaml")
	require.NoError(t, os.WriteFile(config, []byte("mode: sidecar\n"), 0o644))

	for _, c := range cmds {
		t.Run(c, func(t *testing.T) {
			fields := strings.Fields(c)
			assert.Contains(t, fields, "-v", "without -v go test prints only 'ok' for a passing package")
			pkg := suitePackages.FindStringSubmatch(c)
			require.NotNil(t, pkg, "a README go test command runs a suite")
			shows := strings.Contains(c, "--dry-run") || strings.Contains(c, "--list-modes")
			run := c
			if !shows {
				// A real run: the same command, its plan only; the plan
				// says whether this -timeout covers the suite's budget.
				assert.Contains(t, c, "-timeout ", "go test's default 10m timeout kills a real run")
				if !strings.Contains(run, " -args") {
					run += " -args"
				}
				run += " --dry-run"
			}
			// The one file the README names is the user's own.
			run = strings.ReplaceAll(run, "$PWD/my-run.yaml", config)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-c", run)
			cmd.Dir = root
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s\n%s", run, out)
			text := string(out)
			switch {
			case strings.Contains(c, "--list-modes"):
				assert.Regexp(t, `(?m)^(sidecar|ambient)$`, text, "the modes reach the user")
			default:
				assert.Contains(t, text, "dry run, nothing is touched", "the plan reaches the user")
				assert.Contains(t, text, "time: a real run can take up to ")
			}
			if !shows {
				assert.NotContains(t, text, "a real run would stop at once", "the command's -timeout is too short for a suite it runs")
				n := 1
				if pkg[1] == "..." {
					n = 3 // baseline, kservemesh, opeaistio
				}
				assert.GreaterOrEqual(t, strings.Count(text, "enough for a real run"), n, "every suite it runs accepts its -timeout:\n%s", text)
			}
		})
	}
}

// make e2e gives every suite binary E2E_TIMEOUT as its -test.timeout
// (scripts/e2e.sh): each suite's budget must fit in the Makefile's default.
func TestMakeE2ETimeoutCoversEverySuite(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on the suites")
	}
	root := repoRoot(t)
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^E2E_TIMEOUT \?= (\S+)$`).FindSubmatch(mk)
	require.NotNil(t, m, "the Makefile sets E2E_TIMEOUT")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-v", "-timeout", string(m[1]), "./suites/...", "-args", "--dry-run")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, 3, strings.Count(string(out), "enough for a real run"), "E2E_TIMEOUT=%s must cover every suite's budget:\n%s", m[1], out)
}
