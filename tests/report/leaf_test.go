package report

import (
	"go/build"
	"strings"
	"testing"
)

// The recorder is what the summary command and vendors' tools link: of
// this module it may import the report API and the redaction rule (a leaf
// of the standard library) alone, never the engine that execs curl in pods
// (the harness converts the engine's results).
func TestRecorderImportsOnlyTheAPIOfThisModule(t *testing.T) {
	const module = "github.com/secure-inference/mesh-conformance/"
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	api := false
	for _, imp := range pkg.Imports {
		switch {
		case imp == module+"tests/report/apis/v1alpha1":
			api = true
		case imp == module+"tests/redact":
		case strings.HasPrefix(imp, module):
			t.Errorf("tests/report imports %s: of this module it may import only tests/report/apis/v1alpha1 and tests/redact", imp)
		}
	}
	if !api {
		t.Error("tests/report does not import the report API: is the test reading the right package?")
	}
}
