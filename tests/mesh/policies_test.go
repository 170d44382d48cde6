package mesh

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secure-inference/mesh-conformance/fixtures"
)

// The suites' own policies decode into Istio's types, are removed and put
// back as their fixtures have them, also when a restore finds the policy
// changed or still there.
func TestPoliciesRemoveAndRestoreThroughIstiosClient(t *testing.T) {
	ctx := context.Background()
	ic := istiofake.NewSimpleClientset()
	authz, err := PolicyOf(fixtures.MustPick("kservemesh/auth.yaml", "AuthorizationPolicy", "allow-serving-tests"))
	require.NoError(t, err)
	peer, err := PolicyOf(fixtures.MustPick("kservemesh/auth.yaml", "PeerAuthentication", "default"))
	require.NoError(t, err)
	assert.Equal(t, "AuthorizationPolicy user1/allow-serving-tests", authz.String())

	for _, p := range []Policy{authz, peer} {
		require.NoError(t, p.Restore(ctx, ic), "created when absent")
		require.NoError(t, p.Restore(ctx, ic), "reset when present")
	}
	got, err := ic.SecurityV1().PeerAuthentications("user1").Get(ctx, "default", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "STRICT", got.Spec.GetMtls().GetMode().String())
	ap, err := ic.SecurityV1().AuthorizationPolicies("user1").Get(ctx, "allow-serving-tests", metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotEmpty(t, ap.Spec.GetRules(), "the fixture's rules")

	// A restore after someone emptied the rules puts them back.
	ap.Spec.Rules = nil
	_, err = ic.SecurityV1().AuthorizationPolicies("user1").Update(ctx, ap, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.NoError(t, authz.Restore(ctx, ic))
	ap, err = ic.SecurityV1().AuthorizationPolicies("user1").Get(ctx, "allow-serving-tests", metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotEmpty(t, ap.Spec.GetRules())

	for _, p := range []Policy{authz, peer} {
		require.NoError(t, p.Remove(ctx, ic))
		require.NoError(t, p.Remove(ctx, ic), "already gone is no error")
	}
	_, err = ic.SecurityV1().AuthorizationPolicies("user1").Get(ctx, "allow-serving-tests", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err))
}

func TestOnlyIstioPoliciesAreControls(t *testing.T) {
	_, err := PolicyOf(fixtures.MustPick("kservemesh/namespace.yaml", "Namespace", "user1"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not a security.istio.io policy")
	for _, u := range fixtures.MustLoad("opeaistio/istio-mtls-strict.yaml") {
		_, err := PolicyOf(u)
		assert.NoError(t, err, "the OPEA control's PeerAuthentication")
	}
}
