package mesh

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	istioscheme "istio.io/client-go/pkg/clientset/versioned/scheme"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// Policy is an Istio security policy a control removes and restores,
// decoded from its fixture into Istio's own type: an AuthorizationPolicy
// or a PeerAuthentication. A fixture written as security.istio.io/v1beta1
// (kserve-servicemesh.md's version) is handled as v1: Istio serves both
// versions of one schema, so the stored object is the same.
type Policy struct {
	authz *securityv1.AuthorizationPolicy
	peer  *securityv1.PeerAuthentication
}

// PolicyOf decodes a fixture object; any other kind is an error that names
// it, since a control that removed something else would prove nothing
// about the mesh's policy.
func PolicyOf(u *unstructured.Unstructured) (Policy, error) {
	gvk := u.GroupVersionKind()
	if gvk.Group != securityv1.SchemeGroupVersion.Group || (gvk.Version != "v1" && gvk.Version != "v1beta1") {
		return Policy{}, fmt.Errorf("%s %s/%s is not a security.istio.io policy: a control removes and restores Istio policies only", gvk.Kind, u.GetNamespace(), u.GetName())
	}
	if gvk.Kind != "AuthorizationPolicy" && gvk.Kind != "PeerAuthentication" {
		return Policy{}, fmt.Errorf("%s %s/%s: a control removes and restores AuthorizationPolicy and PeerAuthentication only", gvk.Kind, u.GetNamespace(), u.GetName())
	}
	u = u.DeepCopy()
	u.SetAPIVersion(securityv1.SchemeGroupVersion.String())
	obj, err := Decode(u)
	if err != nil {
		return Policy{}, err
	}
	switch o := obj.(type) {
	case *securityv1.AuthorizationPolicy:
		return Policy{authz: o}, nil
	case *securityv1.PeerAuthentication:
		return Policy{peer: o}, nil
	}
	return Policy{}, fmt.Errorf("%s %s/%s decodes as %T, not as a policy of Istio's client", gvk.Kind, u.GetNamespace(), u.GetName(), obj)
}

// Decode decodes an Istio object into the Go type of Istio's client
// (istio.io/client-go's scheme), as the typed client would send it. An
// error names the object and, when one field's value alone does not
// decode, that field's path (spec.mtls.mode): Istio's decoder (jsonpb,
// istio.io/api v1.27.1 security/v1beta1/peer_authentication_json.gen.go)
// names the enum type it could not fill, never the field.
func Decode(u *unstructured.Unstructured) (runtime.Object, error) {
	gvk := u.GroupVersionKind()
	what := fmt.Sprintf("%s %s/%s", gvk.Kind, u.GetNamespace(), u.GetName())
	obj, err := istioscheme.Scheme.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("%s: no type in Istio's client: %w", what, err)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		if field := failingSpecField(obj, u.Object["spec"]); field != "" {
			return nil, fmt.Errorf("%s: %s does not decode as Istio's type: %w", what, field, err)
		}
		return nil, fmt.Errorf("%s does not decode as Istio's type: %w", what, err)
	}
	return obj, nil
}

// failingSpecField is the path of the innermost field of spec whose value
// does not decode into the Spec message of obj; "" when none can be told.
func failingSpecField(obj runtime.Object, spec any) string {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return ""
	}
	field := v.Elem().FieldByName("Spec")
	if !field.IsValid() {
		return ""
	}
	msg, ok := field.Addr().Interface().(proto.Message)
	if !ok {
		return ""
	}
	return failingField(msg.ProtoReflect().Type(), spec, "spec")
}

// failingField descends into value, the JSON form of a message of type mt,
// through the first field whose value alone does not decode, to the
// innermost such field, and returns its path; "" when value decodes or
// the message has no decoder of Istio's to ask (a well-known type, whose
// JSON form has no fields to descend into).
func failingField(mt protoreflect.MessageType, value any, path string) string {
	ok, known := decodes(mt, value)
	if ok || !known {
		return ""
	}
	fields, isObject := value.(map[string]any)
	if !isObject {
		return path
	}
	md := mt.Descriptor()
	for _, key := range slices.Sorted(maps.Keys(fields)) {
		if ok, _ := decodes(mt, map[string]any{key: fields[key]}); ok {
			continue
		}
		at := path + "." + key
		fd := md.Fields().ByJSONName(key)
		if fd == nil {
			fd = md.Fields().ByTextName(key)
		}
		var elem protoreflect.MessageDescriptor
		switch {
		case fd == nil:
		case fd.IsMap():
			elem = fd.MapValue().Message()
		default:
			elem = fd.Message()
		}
		if elem == nil {
			return at // an unknown name, a scalar or an enum: the field itself
		}
		sub, err := protoregistry.GlobalTypes.FindMessageByName(elem.FullName())
		if err != nil {
			return at
		}
		switch v := fields[key].(type) {
		case []any:
			for i, item := range v {
				if p := failingField(sub, item, fmt.Sprintf("%s[%d]", at, i)); p != "" {
					return p
				}
			}
		case map[string]any:
			if fd.IsMap() {
				for _, k := range slices.Sorted(maps.Keys(v)) {
					if p := failingField(sub, v[k], fmt.Sprintf("%s[%s]", at, k)); p != "" {
						return p
					}
				}
			} else if p := failingField(sub, v, at); p != "" {
				return p
			}
		}
		return at
	}
	return path
}

// decodes tells whether value decodes into a message of type mt through
// the message's own JSON decoder, the one Istio's types use; known is
// false when the message has none.
func decodes(mt protoreflect.MessageType, value any) (ok, known bool) {
	dec, known := mt.New().Interface().(json.Unmarshaler)
	if !known {
		return false, false
	}
	data, err := json.Marshal(value)
	if err != nil {
		return false, true
	}
	return dec.UnmarshalJSON(data) == nil, true
}

// String names the policy for messages.
func (p Policy) String() string {
	if p.authz != nil {
		return "AuthorizationPolicy " + p.authz.Namespace + "/" + p.authz.Name
	}
	return "PeerAuthentication " + p.peer.Namespace + "/" + p.peer.Name
}

// Remove deletes the policy; one already gone is no error.
func (p Policy) Remove(ctx context.Context, ic istioclient.Interface) error {
	var err error
	if p.authz != nil {
		err = ic.SecurityV1().AuthorizationPolicies(p.authz.Namespace).Delete(ctx, p.authz.Name, metav1.DeleteOptions{})
	} else {
		err = ic.SecurityV1().PeerAuthentications(p.peer.Namespace).Delete(ctx, p.peer.Name, metav1.DeleteOptions{})
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing %s: %w", p, err)
	}
	return nil
}

// Restore puts the policy back as its fixture has it: created if absent,
// its spec reset if present (a restore after a failed remove, or twice).
func (p Policy) Restore(ctx context.Context, ic istioclient.Interface) error {
	var err error
	if p.authz != nil {
		c := ic.SecurityV1().AuthorizationPolicies(p.authz.Namespace)
		var cur *securityv1.AuthorizationPolicy
		if cur, err = c.Get(ctx, p.authz.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			want := p.authz.DeepCopy()
			want.ResourceVersion = ""
			_, err = c.Create(ctx, want, metav1.CreateOptions{})
		} else if err == nil {
			p.authz.Spec.DeepCopyInto(&cur.Spec)
			_, err = c.Update(ctx, cur, metav1.UpdateOptions{})
		}
	} else {
		c := ic.SecurityV1().PeerAuthentications(p.peer.Namespace)
		var cur *securityv1.PeerAuthentication
		if cur, err = c.Get(ctx, p.peer.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			want := p.peer.DeepCopy()
			want.ResourceVersion = ""
			_, err = c.Create(ctx, want, metav1.CreateOptions{})
		} else if err == nil {
			p.peer.Spec.DeepCopyInto(&cur.Spec)
			_, err = c.Update(ctx, cur, metav1.UpdateOptions{})
		}
	}
	if err != nil {
		return fmt.Errorf("restoring %s: %w", p, err)
	}
	return nil
}
