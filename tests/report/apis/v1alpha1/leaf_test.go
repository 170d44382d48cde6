package v1alpha1

import (
	"go/build"
	"strings"
	"testing"
)

// allowedOutsideStd are the only non-standard imports the report API may
// ever take (serialization and Kubernetes meta types); anything else, and
// above all this module's engine (tests/matrix, tests/probe, exec and
// curl), would be pulled into every program that merely reads a report.
var allowedOutsideStd = []string{"sigs.k8s.io/yaml", "k8s.io/apimachinery/pkg/apis/meta/"}

func TestImportsNothingOfTheEngine(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkg.Imports) == 0 {
		t.Fatal("no imports found: the check would prove nothing (is the package where the test expects it?)")
	}
	for _, imp := range pkg.Imports {
		if bad := notLeaf(imp); bad != "" {
			t.Errorf("%s imports %s: %s", pkg.ImportPath, imp, bad)
		}
	}
}

func TestTheLeafRuleRefusesTheEngine(t *testing.T) {
	for _, imp := range []string{"github.com/secure-inference/mesh-conformance/tests/probe", "github.com/secure-inference/mesh-conformance/tests/matrix", "k8s.io/client-go/kubernetes"} {
		if notLeaf(imp) == "" {
			t.Errorf("%s accepted", imp)
		}
	}
	for _, imp := range []string{"time", "encoding/json", "sigs.k8s.io/yaml", "k8s.io/apimachinery/pkg/apis/meta/v1"} {
		if why := notLeaf(imp); why != "" {
			t.Errorf("%s refused: %s", imp, why)
		}
	}
}

// notLeaf says why an import breaks the rule, or "" when it keeps it. A
// standard library path has no dot in its first element.
func notLeaf(imp string) string {
	if !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
		return ""
	}
	for _, a := range allowedOutsideStd {
		if imp == strings.TrimSuffix(a, "/") || strings.HasPrefix(imp, a) {
			return ""
		}
	}
	return "the report API imports only the standard library, sigs.k8s.io/yaml and apimachinery's meta types"
}
