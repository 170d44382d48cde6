// Package readme holds the README and the pages of docs/ to what they
// say. Their go test commands run as a user types them: a command that
// shows something must show it as written (go test hides a passing
// package's output without -v), and a command that runs a suite must
// carry a -timeout that the suite's own time budget accepts (go test's
// default of 10 minutes kills a real run with no teardown). And every
// path of this repository they cite exists.
package readme

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repoRoot is the folder of go.mod, where the commands run.
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

// pages are the README and every page of docs/, relative to root.
func pages(t *testing.T, root string) []string {
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	require.NoError(t, err)
	out := []string{"README.md"}
	for _, d := range docs {
		rel, err := filepath.Rel(root, d)
		require.NoError(t, err)
		out = append(out, rel)
	}
	return out
}

// goTestCommands are the `go test` lines in sh blocks of the pages and in
// the suites' package comments, without their trailing comments, each
// with where it is written.
func goTestCommands(t *testing.T, root string) map[string][]string {
	cmds := map[string][]string{}
	for _, page := range pages(t, root) {
		f, err := os.Open(filepath.Join(root, page))
		require.NoError(t, err)
		inSh := false
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
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
				c := strings.TrimSpace(line)
				cmds[c] = append(cmds[c], fmt.Sprintf("%s:%d", page, n))
			}
		}
		require.NoError(t, sc.Err())
		f.Close()
	}
	// The suites' package comments show commands too (go doc prints
	// them): they must run as written as well.
	sources, err := filepath.Glob(filepath.Join(root, "suites", "*", "*.go"))
	require.NoError(t, err)
	for _, src := range sources {
		data, err := os.ReadFile(src)
		require.NoError(t, err)
		rel, err := filepath.Rel(root, src)
		require.NoError(t, err)
		for n, line := range strings.Split(string(data), "\n") {
			if c, ok := strings.CutPrefix(line, "//\tgo test "); ok {
				if i := strings.Index(c, " #"); i > 0 {
					c = c[:i]
				}
				c = "go test " + strings.TrimSpace(c)
				cmds[c] = append(cmds[c], fmt.Sprintf("%s:%d", rel, n+1))
			}
		}
	}
	return cmds
}

var suitePackages = regexp.MustCompile(`\./suites/(\w+|\.\.\.)/?`)

func TestGoTestCommandsRunAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on the suites")
	}
	root := repoRoot(t)
	written := goTestCommands(t, root)
	require.NotEmpty(t, written, "the README and docs/ show how to run the suites")
	var cmds []string
	for c := range written {
		cmds = append(cmds, c)
	}
	sort.Strings(cmds)
	config := filepath.Join(t.TempDir(), "my-run.yaml")
	require.NoError(t, os.WriteFile(config, []byte("mode: sidecar\n"), 0o644))

	for _, c := range cmds {
		t.Run(c, func(t *testing.T) {
			t.Logf("written at %s", strings.Join(written[c], ", "))
			fields := strings.Fields(c)
			assert.Contains(t, fields, "-v", "without -v go test prints only 'ok' for a passing package")
			assert.Contains(t, c, "-tags e2e", "a suite's run is built with the e2e tag; without it go test runs the package's unit tests only")
			pkg := suitePackages.FindStringSubmatch(c)
			require.NotNil(t, pkg, "a go test command in an sh block runs a suite (%s); write other commands inline", strings.Join(written[c], ", "))
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
			// The one file the pages name is the user's own.
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
	cmd := exec.CommandContext(ctx, "go", "test", "-tags", "e2e", "-v", "-timeout", string(m[1]), "./suites/...", "-args", "--dry-run")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, 4, strings.Count(string(out), "enough for a real run"), "E2E_TIMEOUT=%s must cover every suite's budget:\n%s", m[1], out)
}
