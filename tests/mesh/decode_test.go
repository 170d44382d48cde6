package mesh

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/tests/istiovalidation"
)

// Every Istio object of every fixture decodes as the type of Istio's
// client, the one a control restores through: a fixture broken on purpose
// fails here, in the unit tier, with a test named after the file and a
// message naming the object and the field.
func TestEveryIstioObjectOfEveryFixtureDecodesAsIstiosType(t *testing.T) {
	decoded := 0
	for _, file := range fixtures.Manifests() {
		t.Run(file, func(t *testing.T) {
			objs, err := fixtures.Load(file)
			require.NoError(t, err)
			for _, o := range objs {
				if !istiovalidation.IsIstio(o) {
					continue
				}
				if _, err := Decode(o); err != nil {
					t.Errorf("fixtures/%s: %v", file, err)
				}
				decoded++
			}
		})
	}
	// auth.yaml's two policies, OPEA's PeerAuthentication, Gateway and
	// VirtualService: a loop that found none would prove nothing.
	assert.GreaterOrEqual(t, decoded, 5, "Istio objects decoded")
}

// A value Istio's decoder refuses is named by its field's path, which
// Istio's decoder itself does not give (it names the enum type).
func TestADecodeErrorNamesTheField(t *testing.T) {
	for _, c := range []struct {
		file, kind, name string
		field            []string
		value            any
		want             string
	}{
		{"kservemesh/auth.yaml", "PeerAuthentication", "default", []string{"spec", "mtls", "mode"}, "STRICTLY",
			`PeerAuthentication user1/default: spec.mtls.mode does not decode as Istio's type: unknown value "\"STRICTLY\"" for enum istio.security.v1beta1.PeerAuthentication.MutualTLS.Mode`},
		{"kservemesh/auth.yaml", "AuthorizationPolicy", "allow-serving-tests", []string{"spec", "action"}, "ALLOWW",
			"AuthorizationPolicy user1/allow-serving-tests: spec.action does not decode"},
		{"opeaistio/istio-gateway-and-virtual-service.yaml", "VirtualService", "opea", []string{"spec", "hosts"}, "*",
			"VirtualService default/opea: spec.hosts does not decode"},
	} {
		o := fixtures.MustPick(c.file, c.kind, c.name).DeepCopy()
		require.NoError(t, unstructured.SetNestedField(o.Object, c.value, c.field...))
		_, err := Decode(o)
		require.Error(t, err, "%s %s", c.kind, c.name)
		assert.Contains(t, err.Error(), c.want)
	}

	// Deeper: the first rule whose source's namespaces is not a list.
	o := fixtures.MustPick("kservemesh/auth.yaml", "AuthorizationPolicy", "allow-serving-tests").DeepCopy()
	rules, _, err := unstructured.NestedSlice(o.Object, "spec", "rules")
	require.NoError(t, err)
	from := rules[1].(map[string]any)["from"].([]any)
	from[0].(map[string]any)["source"].(map[string]any)["namespaces"] = "knative-serving"
	require.NoError(t, unstructured.SetNestedSlice(o.Object, rules, "spec", "rules"))
	_, err = PolicyOf(o)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AuthorizationPolicy user1/allow-serving-tests: spec.rules[1].from[0].source.namespaces does not decode")
}
