package readme

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	// codeSpan is inline code on one line; link is a Markdown link's
	// target.
	codeSpan = regexp.MustCompile("`([^`]+)`")
	link     = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// placeholder is a part the reader fills in (suites/<suite>/suite.go):
	// any existing name stands for it.
	placeholder = regexp.MustCompile(`<[^>]*>`)
	// headingChars are what GitHub keeps of a heading in its anchor.
	headingChars = regexp.MustCompile(`[^\p{L}\p{N} _-]`)
)

// citation is a path a page cites, with where.
type citation struct {
	at, path string
}

// topLevel are the repository's top-level names a citation can start
// with: a path in code is this repository's when its first element is one
// of them (an upstream path like config/core/... is not). Ignored output
// (_output/) is produced by a run, not kept in the repository.
func topLevel(t *testing.T, root string) map[string]bool {
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	ignored := map[string]bool{".git": true}
	if data, err := os.ReadFile(filepath.Join(root, ".gitignore")); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			ignored[strings.Trim(strings.TrimSpace(l), "/")] = true
		}
	}
	names := map[string]bool{}
	for _, e := range entries {
		if !ignored[e.Name()] {
			names[e.Name()] = true
		}
	}
	return names
}

// repoPath is the repository path a word of code cites, or "": the value
// of a flag or variable (--kind-config=kind-config/x.yaml), without ./ or
// a package pattern's /...; words with a variable, a home, an absolute
// path, a URL, an image or module reference are not paths of the
// repository, nor is a path whose first element is not a top-level name.
func repoPath(word string, top map[string]bool) string {
	w := strings.TrimRight(strings.TrimLeft(word, `"'(`), `"'),;`)
	w = strings.TrimSuffix(w, "/...")
	w = strings.TrimRight(w, ".")
	if i := strings.LastIndex(w, "="); i >= 0 {
		w = w[i+1:]
	}
	w = strings.TrimPrefix(w, "./")
	if w == "" || strings.ContainsAny(w, "$~:@") || strings.HasPrefix(w, "/") || strings.HasPrefix(w, "-") {
		return ""
	}
	first, _, _ := strings.Cut(w, "/")
	if !top[first] {
		return ""
	}
	return w
}

// citations are the repository paths a page cites: in its code (inline
// and fenced blocks) and as the targets of its links, which are relative
// to the page. A link's anchor is kept (path#anchor).
func citations(t *testing.T, root, page string, top map[string]bool) []citation {
	f, err := os.Open(filepath.Join(root, page))
	require.NoError(t, err)
	defer f.Close()
	var out []citation
	inFence := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		at := fmt.Sprintf("%s:%d", page, n)
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
			continue
		}
		var code []string
		if inFence {
			code = []string{line}
		} else {
			for _, m := range codeSpan.FindAllStringSubmatch(line, -1) {
				code = append(code, m[1])
			}
			for _, m := range link.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				p, anchor, _ := strings.Cut(target, "#")
				if p == "" {
					p = filepath.Base(page) // an anchor of this page
				}
				p = filepath.ToSlash(filepath.Join(filepath.Dir(page), p))
				if anchor != "" {
					p += "#" + anchor
				}
				out = append(out, citation{at, p})
			}
		}
		for _, c := range code {
			for _, w := range strings.Fields(c) {
				if p := repoPath(w, top); p != "" {
					out = append(out, citation{at, p})
				}
			}
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// anchors are the link anchors of a Markdown page's headings, as GitHub
// makes them.
func anchors(t *testing.T, path string) map[string]bool {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	out := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		if h := strings.TrimLeft(l, "#"); len(h) < len(l) && strings.HasPrefix(h, " ") {
			a := headingChars.ReplaceAllString(strings.ToLower(strings.TrimSpace(h)), "")
			out[strings.ReplaceAll(a, " ", "-")] = true
		}
	}
	return out
}

// missing is why a citation does not hold, or "".
func missing(t *testing.T, root string, c citation) string {
	p, anchor, _ := strings.Cut(c.path, "#")
	pattern := placeholder.ReplaceAllString(p, "*")
	matches, err := filepath.Glob(filepath.Join(root, pattern))
	require.NoError(t, err)
	if len(matches) == 0 {
		return "no such path in the repository"
	}
	if anchor != "" && !anchors(t, matches[0])[anchor] {
		return "no heading makes the anchor #" + anchor
	}
	return ""
}

func TestCitedPathsExist(t *testing.T) {
	root := repoRoot(t)
	top := topLevel(t, root)
	checked := 0
	for _, page := range pages(t, root) {
		for _, c := range citations(t, root, page, top) {
			checked++
			if why := missing(t, root, c); why != "" {
				assert.Fail(t, "a cited path does not exist", "%s: %s: %s", c.at, c.path, why)
			}
		}
	}
	t.Logf("%d citations checked", checked)
}

// The test must see what a page cites, and only that.
func TestRepoPathPicksThisRepository(t *testing.T) {
	top := map[string]bool{"tests": true, "suites": true, "scripts": true, "fixtures": true, "Makefile": true}
	for word, want := range map[string]string{
		"tests/harness":                          "tests/harness",
		"./suites/...":                           "suites",
		"README.md":                              "",
		"./tests/options":                        "tests/options",
		"scripts/lab.sh":                         "scripts/lab.sh",
		"--kind-config=fixtures/x.yaml":          "fixtures/x.yaml",
		"(fixtures/<suite>/),":                   "fixtures/<suite>/",
		"Makefile's":                             "",
		"Makefile":                               "Makefile",
		"$PWD/my-run.yaml":                       "",
		"--kubeconfig=$HOME/.kube/config":        "",
		"~/.cache/mesh-conformance":              "",
		"config/core/configmaps/autoscaler.yaml": "",
		"kindest/node:v1.34.11":                  "",
		"istio.io/istio@v0.0.0":                  "",
		"/v1/chatqna":                            "",
		"https://github.com/istio/istio":         "",
	} {
		assert.Equal(t, want, repoPath(word, top), word)
	}
}
