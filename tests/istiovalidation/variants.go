// Package istiovalidation holds broken variants of the suites' Istio
// fixtures that the CRDs' schemas (types, enums, CEL rules) accept and
// Istio's own validation (istiod's validating webhook) refuses: the API
// server tier shows the schema lets each through, the lab shows the real
// istiod refuses each with a message naming the field. A suite that
// applied such an object on a cluster without istiod's webhook would
// install a policy Istio ignores.
package istiovalidation

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/secure-inference/mesh-conformance/fixtures"
)

// Fixtures are the suites' fixture files that hold Istio objects.
var Fixtures = []string{
	"kservemesh/auth.yaml",
	"kservemesh/hardened/activator.yaml",
	"opeaistio/istio-gateway-and-virtual-service.yaml",
	"opeaistio/istio-mtls-strict.yaml",
	"kserveambient/auth.ambient.yaml",
	"kserveambient/auth.sidecar.yaml",
	"kserveambient/ztunnel-l7-rule.yaml",
	"kserveambient/ingress.yaml",
}

// IstioObjects is how many Istio objects Fixtures hold: auth.yaml's two,
// the hardened profile's four policies, OPEA's Gateway, VirtualService and
// PeerAuthentication, kserveambient's four ambient policies (two attached
// by targetRefs), two sidecar ones, the DENY on ztunnel and the ingress
// gateway's ALLOW (by targetRefs). A loop over them that found fewer proved
// less than it says.
const IstioObjects = 17

// IsIstio tells whether an object is an Istio resource.
func IsIstio(o *unstructured.Unstructured) bool {
	return strings.HasSuffix(o.GroupVersionKind().Group, ".istio.io")
}

// WebhookDenial is how the API server words a refusal by istiod's
// validating webhook (the base chart's validation.istio.io or the
// revision's rev.validation.istio.io); a refusal by a CRD's schema reads
// otherwise.
const WebhookDenial = `validation.istio.io" denied the request`

// Variant is one fixture object changed by one edit.
type Variant struct {
	Name, File, Kind, Object string
	Edit                     func(o *unstructured.Unstructured) error
	// Want is a part of Istio's refusal; it names the field.
	Want string
}

// Build loads the variant's fixture object and applies the edit, under
// the object's own name and namespace.
func (v Variant) Build() (*unstructured.Unstructured, error) {
	objs, err := fixtures.Load(v.File)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if o.GetKind() == v.Kind && o.GetName() == v.Object {
			o = o.DeepCopy()
			if err := v.Edit(o); err != nil {
				return nil, fmt.Errorf("variant %s: %w", v.Name, err)
			}
			return o, nil
		}
	}
	return nil, fmt.Errorf("variant %s: no %s %s in fixtures/%s", v.Name, v.Kind, v.Object, v.File)
}

// set sets values at dotted paths whose numeric parts index lists; a nil
// value removes the key.
func set(pathsAndValues ...any) func(o *unstructured.Unstructured) error {
	return func(o *unstructured.Unstructured) error {
		for i := 0; i+1 < len(pathsAndValues); i += 2 {
			path := pathsAndValues[i].(string)
			if err := setPath(o.Object, strings.Split(path, "."), pathsAndValues[i+1]); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		return nil
	}
}

func setPath(m any, path []string, v any) error {
	for i, p := range path {
		last := i == len(path)-1
		switch cur := m.(type) {
		case map[string]any:
			if !last {
				m = cur[p]
				continue
			}
			if v == nil {
				if _, ok := cur[p]; !ok {
					return fmt.Errorf("no key %s to remove", p)
				}
				delete(cur, p)
			} else {
				cur[p] = v
			}
		case []any:
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n >= len(cur) {
				return fmt.Errorf("no item %s", p)
			}
			if !last {
				m = cur[n]
				continue
			}
			cur[n] = v
		default:
			return fmt.Errorf("cannot descend into %T at %s", m, p)
		}
	}
	return nil
}

// Variants come from Istio's validation code at the module version the
// lab runs (istio.io/istio pkg/config/validation/validation.go and
// virtualservice.go, pkg/config/security/security.go). None is a
// PeerAuthentication: everything Istio's validation checks there (port
// range, port-level mTLS only with a selector and not empty, selector
// labels) its CRD's schema refuses already (the API server tier's
// mutations).
var Variants = []Variant{
	{"authz-empty-namespace", "kservemesh/auth.yaml", "AuthorizationPolicy", "allow-serving-tests",
		set("spec.rules.0.from.0.source.namespaces", []any{"user1", ""}), "empty value not allowed, found in Namespaces"},
	{"authz-condition-without-values", "kservemesh/auth.yaml", "AuthorizationPolicy", "allow-serving-tests",
		set("spec.rules.0.when", []any{map[string]any{"key": "request.headers[x-user]"}}),
		"at least one of `values` or `notValues` must be set for key request.headers[x-user]"},
	{"gateway-https-without-tls", "opeaistio/istio-gateway-and-virtual-service.yaml", "Gateway", "opea-gateway",
		set("spec.servers.1.tls", nil), "server must have TLS settings for HTTPS/TLS protocols"},
	{"gateway-duplicate-port-name", "opeaistio/istio-gateway-and-virtual-service.yaml", "Gateway", "opea-gateway",
		set("spec.servers.1.port.name", "http"), "port names in servers must be unique: duplicate name http"},
	{"virtualservice-route-and-redirect", "opeaistio/istio-gateway-and-virtual-service.yaml", "VirtualService", "opea",
		set("spec.http.0.redirect", map[string]any{"uri": "/elsewhere"}), "HTTP route cannot contain both route and redirect"},
	{"authz-custom-by-namespace", "kservemesh/auth.yaml", "AuthorizationPolicy", "allow-serving-tests",
		set("spec.action", "CUSTOM", "spec.provider", map[string]any{"name": "ext-authz"}),
		"From.Namespaces is currently not supported with CUSTOM action"},
}
