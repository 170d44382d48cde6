package mesh

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func meshConfigMap(data string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMap, Namespace: ConfigNamespace}, Data: map[string]string{ConfigKey: data}}
}

func TestTrustDomain(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ name, mesh, want string }{
		// istiod's chart writes trustDomain; a key from a newer Istio is ignored.
		{"set", "trustDomain: example.org\nnewerField: x\ndefaultConfig:\n  discoveryAddress: istiod.istio-system.svc:15012\n", "example.org"},
		{"unset", "defaultConfig:\n  discoveryAddress: istiod.istio-system.svc:15012\n", "cluster.local"},
		{"empty", "", "cluster.local"},
	} {
		td, err := TrustDomain(ctx, fake.NewSimpleClientset(meshConfigMap(c.mesh)))
		require.NoError(t, err, c.name)
		assert.Equal(t, c.want, td, c.name)
	}
	_, err := TrustDomain(ctx, fake.NewSimpleClientset(meshConfigMap("trustDomain: [not, a, string]")))
	assert.ErrorContains(t, err, `parsing the mesh config istio-system/istio key "mesh"`)
	_, err = TrustDomain(ctx, fake.NewSimpleClientset())
	assert.ErrorContains(t, err, "reading the mesh config istio-system/istio")
}
