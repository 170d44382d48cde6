package options

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The options are read by every binary of the module, the report's summary
// and the scripts' helpers among them: they must not link the exec engine
// (client-go's remotecommand, through the probe and matrix packages), as
// they did while the mode type lived beside matrix.DeniedByPolicy. The mode
// type is tests/dataplane, a leaf.
func TestOptionsDoNotLinkTheExecEngine(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	require.NoError(t, err, "go list -deps: %s", out)
	forbidden := []string{
		"k8s.io/client-go/tools/remotecommand",
		"github.com/secure-inference/mesh-conformance/tests/probe",
		"github.com/secure-inference/mesh-conformance/tests/matrix",
	}
	deps := map[string]bool{}
	for _, d := range strings.Fields(string(out)) {
		deps[d] = true
	}
	require.True(t, deps["github.com/secure-inference/mesh-conformance/tests/dataplane"], "the listing is the options package's: %s", out)
	for _, f := range forbidden {
		if deps[f] {
			t.Errorf("tests/options links %s: see which import brings it with go list -deps ./tests/options", f)
		}
	}
}
