// Package apply decodes YAML manifests and server-side applies them, the one
// way every fixture reaches a cluster (real, or the API server tier).
package apply

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// FieldManager owns every field the suite applies.
const FieldManager = "mesh-conformance"

// Decode splits a multi-document YAML stream into objects; source names the
// stream in errors (a file name).
func Decode(source string, data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for i := 0; ; i++ {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s: document %d: %w", source, i+1, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		if obj.GetKind() == "" || obj.GetAPIVersion() == "" {
			return nil, fmt.Errorf("%s: document %d has no kind or apiVersion", source, i+1)
		}
		out = append(out, obj)
	}
}

// Applier server-side applies objects of any kind.
type Applier struct {
	Dynamic dynamic.Interface
	// WebhookWait bounds the retries of an apply that a webhook could not
	// answer yet (see Transient). Default DefaultWebhookWait.
	WebhookWait time.Duration
	// Logf, when set, hears about each retry.
	Logf   func(format string, args ...any)
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

// DefaultWebhookWait is how long an apply waits for a webhook that is
// registered but not serving: a controller restarted or an operator just
// installed takes tens of seconds to have endpoints and a CA bundle.
const DefaultWebhookWait = 2 * time.Minute

// transientWebhook are the messages of a webhook the API server could not
// reach or trust yet. A webhook that answered, even to refuse, is never
// among them: its "admission webhook ... denied the request" is a verdict.
var transientWebhook = []string{
	"no endpoints available for service", // Service without ready pods yet
	"connection refused",                 // pod up, server not listening yet
	"connection reset by peer",
	"i/o timeout",
	"context deadline exceeded",
	": EOF",
	"certificate signed by unknown authority", // CA bundle not injected yet (cert-manager's cainjector)
}

// Transient tells whether an apply failed only because an admission
// webhook could not be called yet, so the same apply may succeed shortly.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	if !strings.Contains(msg, "failed calling webhook") {
		return false
	}
	for _, m := range transientWebhook {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// New builds an Applier for a cluster.
func New(cfg *rest.Config) (*Applier, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Applier{Dynamic: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}

// Resource maps an object to its resource client, refreshing discovery
// once when the kind is new (a CRD installed a moment ago).
func (a *Applier) Resource(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		a.mapper.Reset()
		m, err = a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("%s is not served by this cluster (is its CRD installed?): %w", gvk, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := obj.GetNamespace()
		if ns == "" {
			ns = metav1.NamespaceDefault
		}
		return a.Dynamic.Resource(m.Resource).Namespace(ns), nil
	}
	return a.Dynamic.Resource(m.Resource), nil
}

// crdGVR is the CustomResourceDefinition resource.
var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// servedResource is Resource for a write: a kind whose CRD exists but is
// not served yet (a chart created it a moment ago: Helm's wait does not
// wait for CRDs in templates to be Established, and discovery lags behind
// them) is waited for, bounded by WebhookWait, instead of failing. A kind
// without a CRD fails at once.
func (a *Applier) servedResource(ctx context.Context, obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	ri, err := a.Resource(obj)
	if err == nil || !meta.IsNoMatchError(err) {
		return ri, err
	}
	gvk := obj.GroupVersionKind()
	crds, lerr := a.Dynamic.Resource(crdGVR).List(ctx, metav1.ListOptions{})
	if lerr != nil {
		return nil, err
	}
	name := ""
	for _, c := range crds.Items {
		group, _, _ := unstructured.NestedString(c.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(c.Object, "spec", "names", "kind")
		if group == gvk.Group && kind == gvk.Kind {
			name = c.GetName()
		}
	}
	if name == "" {
		return nil, err
	}
	limit := a.WebhookWait
	if limit <= 0 {
		limit = DefaultWebhookWait
	}
	if a.Logf != nil {
		a.Logf("apply %s: CRD %s exists but %s is not served yet; waiting up to %s", Describe(obj), name, gvk, limit)
	}
	for deadline := time.Now().Add(limit); ; {
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(250 * time.Millisecond):
		}
		if ri, err = a.Resource(obj); err == nil || !meta.IsNoMatchError(err) {
			return ri, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("CRD %s exists but was not served within %s: %w", name, limit, err)
		}
	}
}

// Apply server-side applies each object in order (force: the suite owns
// what it applies). Errors name the object.
func (a *Applier) Apply(ctx context.Context, objs ...*unstructured.Unstructured) error {
	for _, obj := range objs {
		ri, err := a.servedResource(ctx, obj)
		if err != nil {
			return err
		}
		data, err := obj.MarshalJSON()
		if err != nil {
			return err
		}
		if err := a.retryWebhook(ctx, Describe(obj), func() error {
			_, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data,
				metav1.PatchOptions{FieldManager: FieldManager, Force: ptr(true)})
			return err
		}); err != nil {
			return fmt.Errorf("applying %s: %w", Describe(obj), err)
		}
	}
	return nil
}

// retryWebhook runs fn until it succeeds, fails for a reason other than a
// webhook not serving yet, or WebhookWait has passed, backing off from half
// a second to five.
func (a *Applier) retryWebhook(ctx context.Context, what string, fn func() error) error {
	limit := a.WebhookWait
	if limit <= 0 {
		limit = DefaultWebhookWait
	}
	deadline, pause := time.Now().Add(limit), 500*time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if !Transient(err) {
			return err
		}
		if time.Now().Add(pause).After(deadline) {
			return fmt.Errorf("a webhook did not serve within %s (%d attempts): %w", limit, attempt, err)
		}
		if a.Logf != nil {
			a.Logf("apply %s: a webhook is not serving yet, retrying in %s: %v", what, pause, err)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		if pause *= 2; pause > 5*time.Second {
			pause = 5 * time.Second
		}
	}
}

// Delete deletes each object, in reverse order; absent objects are fine.
func (a *Applier) Delete(ctx context.Context, objs ...*unstructured.Unstructured) error {
	var errs []error
	for i := len(objs) - 1; i >= 0; i-- {
		ri, err := a.Resource(objs[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		err = ri.Delete(ctx, objs[i].GetName(), metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting %s: %w", Describe(objs[i]), err))
		}
	}
	return errors.Join(errs...)
}

// WaitEstablished waits until each CRD among objs is Established, bounded by
// limit.
func (a *Applier) WaitEstablished(ctx context.Context, limit time.Duration, objs ...*unstructured.Unstructured) error {
	deadline := time.Now().Add(limit)
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		for {
			got, err := a.Dynamic.Resource(crdGVR).Get(ctx, o.GetName(), metav1.GetOptions{})
			if err == nil && hasCondition(got, "Established") {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("CRD %s not Established within %s (last error: %v)", o.GetName(), limit, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	a.mapper.Reset()
	return nil
}

func hasCondition(obj *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ && m["status"] == "True" {
			return true
		}
	}
	return false
}

// Describe names an object as kind namespace/name.
func Describe(obj *unstructured.Unstructured) string {
	name := obj.GetName()
	if ns := obj.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	return strings.TrimSpace(obj.GetKind() + " " + name)
}

func ptr[T any](v T) *T { return &v }
