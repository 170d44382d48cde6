package mesh

import (
	"context"
	"fmt"

	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
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
	u = u.DeepCopy()
	u.SetAPIVersion(securityv1.SchemeGroupVersion.String())
	var p Policy
	var into any
	switch gvk.Kind {
	case "AuthorizationPolicy":
		p.authz = &securityv1.AuthorizationPolicy{}
		into = p.authz
	case "PeerAuthentication":
		p.peer = &securityv1.PeerAuthentication{}
		into = p.peer
	default:
		return Policy{}, fmt.Errorf("%s %s/%s: a control removes and restores AuthorizationPolicy and PeerAuthentication only", gvk.Kind, u.GetNamespace(), u.GetName())
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
		return Policy{}, fmt.Errorf("%s %s/%s does not decode as Istio's type: %w", gvk.Kind, u.GetNamespace(), u.GetName(), err)
	}
	return p, nil
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
