// Package ci checks the repository's CI definitions, so that a broken
// workflow fails make test instead of the next nightly run.
package ci

import (
	"bytes"
	"io"
	"path/filepath"
	"testing"

	"github.com/rhysd/actionlint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func lint(t *testing.T, path string, content []byte) []*actionlint.Error {
	t.Helper()
	l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	require.NoError(t, err)
	var errs []*actionlint.Error
	if content == nil {
		errs, err = l.LintFile(path, nil)
	} else {
		errs, err = l.Lint(path, content, nil)
	}
	require.NoError(t, err)
	return errs
}

func TestWorkflowsLintClean(t *testing.T) {
	files, err := filepath.Glob("../../.github/workflows/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		for _, e := range lint(t, f, nil) {
			t.Errorf("%s:%d:%d: %s [%s]", f, e.Line, e.Column, e.Message, e.Kind)
		}
	}
}

// The check can fail: a workflow with an unknown matrix key and a bad
// expression is refused.
func TestBrokenWorkflowIsRefused(t *testing.T) {
	broken := []byte(`on: push
jobs:
  a:
    runs-on: ubuntu-24.04
    strategy:
      matrix:
        suite: [kservemesh]
    steps:
      - run: echo ${{ matrix.sutie }}
`)
	errs := lint(t, "<stdin>", broken)
	require.NotEmpty(t, errs)
	var msgs bytes.Buffer
	for _, e := range errs {
		msgs.WriteString(e.Message)
	}
	assert.Contains(t, msgs.String(), "sutie")
}
