package plans

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/suites/baseline"
	"github.com/secure-inference/mesh-conformance/suites/kserveambient"
	"github.com/secure-inference/mesh-conformance/suites/kservemesh"
	"github.com/secure-inference/mesh-conformance/suites/opeaistio"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// Every feature of every suite is declared right: a known kind and support
// level, a claim on its own cluster only for an extended feature, each
// manifest a file under fixtures/, what a builder was given valid (a
// control's policies decode), and a name the suite has once in each mode
// (two features may share a name when each applies to its own mode, as
// kserveambient's policy controls, whose policies differ by mode).
func TestEveryFeatureIsDeclaredRight(t *testing.T) {
	for _, s := range []*harness.Suite{&baseline.Suite, &kservemesh.Suite, &opeaistio.Suite, &kserveambient.Suite} {
		for _, f := range s.Features {
			assert.NoError(t, f.Validate(), "suite %s", s.Name)
		}
		modes := s.Modes
		if len(modes) == 0 {
			modes = []dataplane.Mode{""}
		}
		for _, m := range modes {
			names := map[string]bool{}
			for _, f := range s.Features {
				if f.Applies != nil && !f.Applies(options.Options{Mode: m}) {
					continue
				}
				assert.False(t, names[f.Name], "suite %s has two features %s in mode %q", s.Name, f.Name, m)
				names[f.Name] = true
			}
		}
	}
}

// A suite declares data: no file under suites/ imports e2e-framework,
// whose features the harness alone builds.
func TestNoSuiteImportsTheFramework(t *testing.T) {
	root := filepath.Join(repoRoot(t), "suites")
	var files int
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		files++
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			assert.False(t, strings.HasPrefix(p, "sigs.k8s.io/e2e-framework"), "%s imports %s", path, p)
		}
		return nil
	}))
	assert.Positive(t, files)
}

// docs/suites.md lists every suite's deviations from its document by name
// (suites/<suite>/deviations.go): a deviation added, or renamed, shows
// there too.
func TestEveryDeviationIsInTheDocs(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "suites.md"))
	require.NoError(t, err)
	n := 0
	for _, s := range []*harness.Suite{&baseline.Suite, &kservemesh.Suite, &opeaistio.Suite} {
		for _, d := range s.Deviations {
			n++
			assert.Contains(t, string(doc), "| "+s.Name+" | `"+d.Name+"` |", "docs/suites.md: deviation %s of %s", d.Name, s.Name)
		}
	}
	assert.Positive(t, n)
}
