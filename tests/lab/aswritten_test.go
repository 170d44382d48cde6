//go:build lab

package lab

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/secure-inference/mesh-conformance/suites/opeaistio"
	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/harness"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// opeaCheck runs one check of one of the OPEA suite's features, unmodified,
// on the shared lab cluster in ambient mode.
func opeaCheck(ctx context.Context, t *testing.T, feature, check string) error {
	t.Helper()
	o := options.Defaults()
	o.Mode = dataplane.Ambient
	env := harness.NewEnv(o, dataplane.Ambient, kube, nil, applier, nil, logf)
	for _, f := range opeaistio.Suite.Features {
		if f.Name != feature {
			continue
		}
		for _, c := range f.Checks {
			if c.Name == check {
				return c.Run(ctx, env)
			}
		}
	}
	t.Fatalf("the opeaistio suite has no check %s/%s", feature, check)
	return nil
}

// The OPEA guide as written enrols nothing in the mesh (GenAIInfra v1.1
// sets no istio.io/dataplane-mode): on the lab's chatqna, deployed as the
// document leaves it, the as-written run's premise holds and the corrected
// run's enrollment premise says what is missing. Labelled as a corrected
// run leaves it, the as-written premise fails: a run on such a cluster is
// not the document as written.
func TestOPEAAsWrittenEnrolsNothing(t *testing.T) {
	ctx := context.Background()
	require.NoError(t, opeaCheck(ctx, t, "not-enrolled-as-written", "namespace"), "chatqna as the document leaves it: not enrolled")
	require.NoError(t, opeaCheck(ctx, t, "not-enrolled-as-written", "pods"), "and no pod redirected to ztunnel")
	err := opeaCheck(ctx, t, "mesh-enrollment", "namespace")
	require.Error(t, err, "the corrected run's premise finds chatqna outside the mesh")
	t.Logf("mesh-enrollment/namespace on the document's chatqna: %v", err)

	label := func(v string) {
		_, err := kube.CoreV1().Namespaces().Patch(ctx, opeaistio.ChatQnANamespace, types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"istio.io/dataplane-mode":`+v+`}}}`), metav1.PatchOptions{})
		require.NoError(t, err)
	}
	label(`"ambient"`)
	t.Cleanup(func() { label("null") })
	err = opeaCheck(ctx, t, "not-enrolled-as-written", "namespace")
	require.Error(t, err, "a chatqna left enrolled by a corrected run is not the document as written")
	t.Logf("not-enrolled-as-written/namespace on an enrolled chatqna: %v", err)
	require.NoError(t, opeaCheck(ctx, t, "mesh-enrollment", "namespace"), "and the corrected premise's namespace check then holds")
}
