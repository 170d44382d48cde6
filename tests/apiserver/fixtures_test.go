//go:build apiserver

package apiserver_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/secure-inference/mesh-conformance/fixtures"
	"github.com/secure-inference/mesh-conformance/suites/kservemesh"
	"github.com/secure-inference/mesh-conformance/suites/opeaistio"
	"github.com/secure-inference/mesh-conformance/tests/apiserver"
	"github.com/secure-inference/mesh-conformance/tests/apply"
	"github.com/secure-inference/mesh-conformance/tests/istiovalidation"
	"github.com/secure-inference/mesh-conformance/tests/upstream"
)

// The API server tier: a real kube-apiserver with the real upstream CRDs,
// built with the apiserver tag (go test ./... leaves it out) and run by make
// test-apiserver (and make test), which builds the binaries once, cached.

var (
	server  *apiserver.Server
	applier *apply.Applier
	kube    kubernetes.Interface
)

func TestMain(m *testing.M) {
	binDir := os.Getenv(apiserver.BinDirEnv)
	if binDir == "" {
		fmt.Fprintf(os.Stderr, "API server tier: %s is not set; run make test-apiserver (it builds kube-apiserver and etcd once, cached)\n", apiserver.BinDirEnv)
		os.Exit(1)
	}
	os.Exit(run(m, binDir))
}

func run(m *testing.M, binDir string) int {
	start := time.Now()
	var err error
	server, err = apiserver.Start(binDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "API server tier:", err)
		return 1
	}
	defer server.Stop()
	started := time.Since(start)
	if applier, err = apply.New(server.Config); err == nil {
		kube, err = kubernetes.NewForConfig(server.Config)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	crds, err := upstream.LoadCRDs(upstream.CRDSources(kservemesh.Versions, opeaistio.Versions))
	if err == nil {
		ctx := context.Background()
		if err = applier.Apply(ctx, crds...); err == nil {
			err = applier.WaitEstablished(ctx, 2*time.Minute, crds...)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "API server tier: installing upstream CRDs:", err)
		return 1
	}
	fmt.Printf("API server tier: kube-apiserver ready in %s; %d upstream CRDs Established in %s\n",
		started.Round(time.Millisecond), len(crds), (time.Since(start) - started).Round(time.Millisecond))
	return m.Run()
}

// ensureNamespaces creates the namespaces the fixtures name (there is no
// namespace controller here, so they are only ever created).
func ensureNamespaces(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		_, err := kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			require.NoError(t, err)
		}
	}
}

func fixtureNamespaces(t *testing.T) {
	ensureNamespaces(t, "user1", "user2", "outside", "istio-system", "istio-ingress", "cert-manager", "kserve", "knative-serving", "chatqna")
}

func TestEveryFixtureIsAccepted(t *testing.T) {
	fixtureNamespaces(t)
	total := 0
	for _, name := range fixtures.Manifests() {
		objs, err := fixtures.Load(name)
		require.NoError(t, err)
		require.NoError(t, fixtures.Apply(context.Background(), applier, name))
		// Server-side apply again: idempotent, no conflict with ourselves.
		require.NoError(t, fixtures.Apply(context.Background(), applier, name), "re-applying %s", name)
		total += len(objs)
	}
	t.Logf("%d fixture files, %d objects accepted", len(fixtures.Manifests()), total)
}

func TestABrokenFixtureFailsWithItsFileName(t *testing.T) {
	fixtureNamespaces(t)
	fsys := fstest.MapFS{"kservemesh/auth-typo.yaml": {Data: []byte(`apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: typo, namespace: user1}
spec: {mtls: {mode: STRICTT}}
`)}}
	err := fixtures.ApplyFrom(context.Background(), applier, fsys, "kservemesh/auth-typo.yaml")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "fixture kservemesh/auth-typo.yaml")
	assert.Contains(t, err.Error(), "spec.mtls.mode")
}

// mutation breaks one object of a fixture in a realistic way; the API
// server must refuse it with an error naming the field.
type mutation struct {
	name    string
	fixture string
	kind    string // which object of the file
	objName string
	mutate  func(o map[string]any)
	// wantField must appear in the error.
	wantField string
}

func set(path string, v any) func(map[string]any) {
	return func(o map[string]any) {
		if err := unstructured.SetNestedField(o, v, strings.Split(path, ".")...); err != nil {
			panic(err)
		}
	}
}

func remove(path string) func(map[string]any) {
	return func(o map[string]any) { unstructured.RemoveNestedField(o, strings.Split(path, ".")...) }
}

func editServer(i int, edit func(map[string]any)) func(map[string]any) {
	return func(o map[string]any) {
		servers, _, _ := unstructured.NestedSlice(o, "spec", "servers")
		edit(servers[i].(map[string]any))
		_ = unstructured.SetNestedSlice(o, servers, "spec", "servers")
	}
}

var mutations = []mutation{
	{"PeerAuthentication wrong enum", "kservemesh/auth.yaml", "PeerAuthentication", "default", set("spec.mtls.mode", "STRICTT"), "spec.mtls.mode"},
	{"PeerAuthentication CEL rule: portLevelMtls needs a selector", "opeaistio/istio-mtls-strict.yaml", "PeerAuthentication", "default",
		set("spec.portLevelMtls", map[string]any{"8080": map[string]any{"mode": "DISABLE"}}), "portLevelMtls"},
	{"AuthorizationPolicy wrong enum", "kservemesh/auth.yaml", "AuthorizationPolicy", "allow-serving-tests", set("spec.action", "ALLOWW"), "spec.action"},
	{"AuthorizationPolicy wrong type", "kservemesh/auth.yaml", "AuthorizationPolicy", "allow-serving-tests", set("spec.rules", "user1"), "spec.rules"},
	{"InferenceService missing required model format name", "kservemesh/inferenceservices.yaml", "InferenceService", "sklearn-iris",
		remove("spec.predictor.model.modelFormat.name"), "spec.predictor.model.modelFormat.name"},
	{"InferenceService wrong type", "kservemesh/inferenceservices.yaml", "InferenceService", "sklearn-iris-burst",
		set("spec.predictor.minReplicas", "one"), "spec.predictor.minReplicas"},
	{"Gateway wrong TLS mode", "opeaistio/istio-gateway-and-virtual-service.yaml", "Gateway", "opea-gateway",
		editServer(1, func(s map[string]any) { s["tls"].(map[string]any)["mode"] = "SIMPLEX" }), "spec.servers[1].tls.mode"},
	{"Gateway missing required port", "opeaistio/istio-gateway-and-virtual-service.yaml", "Gateway", "opea-gateway",
		editServer(0, func(s map[string]any) { delete(s, "port") }), "spec.servers[0].port"},
	{"VirtualService wrong type", "opeaistio/istio-gateway-and-virtual-service.yaml", "VirtualService", "opea", set("spec.hosts", "*"), "spec.hosts"},
	{"Certificate missing required issuerRef", "opeaistio/istio-gateway-ca-and-cert.yaml", "Certificate", "istio-gateway", remove("spec.issuerRef"), "spec.issuerRef"},
	{"Certificate wrong type", "opeaistio/istio-gateway-ca-and-cert.yaml", "Certificate", "istio-gateway", set("spec.dnsNames", "*.intel.com"), "spec.dnsNames"},
	{"Issuer wrong type", "opeaistio/istio-gateway-ca-and-cert.yaml", "Issuer", "ca-issuer", set("spec.selfSigned", "yes"), "spec.selfSigned"},
	{"Deployment wrong type", "kservemesh/httpbin.yaml", "Deployment", "httpbin", set("spec.replicas", "one"), "spec.replicas"},
	{"Service port out of range", "kservemesh/httpbin.yaml", "Service", "httpbin",
		func(o map[string]any) {
			ports, _, _ := unstructured.NestedSlice(o, "spec", "ports")
			ports[0].(map[string]any)["port"] = int64(70000)
			_ = unstructured.SetNestedSlice(o, ports, "spec", "ports")
		}, "spec.ports[0].port"},
	{"Namespace invalid name", "kservemesh/namespace.yaml", "Namespace", "user1", set("metadata.name", "User_1"), "metadata.name"},
	// kserveambient's waypoint (Gateway API's CRD) and its policy attached by targetRefs (Istio's).
	{"Waypoint Gateway missing required gatewayClassName", "kserveambient/waypoint.yaml", "Gateway", "waypoint", remove("spec.gatewayClassName"), "spec.gatewayClassName"},
	{"Waypoint Gateway listener wrong type", "kserveambient/waypoint.yaml", "Gateway", "waypoint", set("spec.listeners", "mesh"), "spec.listeners"},
	{"AuthorizationPolicy targetRefs wrong type", "kserveambient/auth.ambient.yaml", "AuthorizationPolicy", "ns-owner-access-istio", set("spec.targetRefs", "waypoint"), "spec.targetRefs"},
	// kserveambient's ingress: the Gateway's parametersRef and the routes (Gateway API's CRDs).
	{"Ingress Gateway parametersRef missing required kind", "kserveambient/ingress.yaml", "Gateway", "ambient-ingressgateway",
		remove("spec.infrastructure.parametersRef.kind"), "spec.infrastructure.parametersRef.kind"},
	{"Ingress HTTPRoute hostnames wrong type", "kserveambient/ingress.yaml", "HTTPRoute", "sklearn-iris", set("spec.hostnames", "sklearn-iris-user1.example.com"), "spec.hostnames"},
}

func TestBrokenVariantsAreRejected(t *testing.T) {
	fixtureNamespaces(t)
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			objs, err := fixtures.Load(m.fixture)
			require.NoError(t, err)
			var target *unstructured.Unstructured
			for _, o := range objs {
				if o.GetKind() == m.kind && o.GetName() == m.objName {
					target = o.DeepCopy()
				}
			}
			require.NotNil(t, target, "%s has no %s %s", m.fixture, m.kind, m.objName)
			target.SetName(target.GetName() + "-broken")
			if m.kind == "Namespace" {
				target.SetName("")
			}
			m.mutate(target.Object)
			if target.GetName() == "" {
				target.SetName("broken")
			}
			err = applier.Apply(context.Background(), target)
			require.Error(t, err, "the API server accepted a broken %s", m.kind)
			var status apierrors.APIStatus
			require.ErrorAs(t, err, &status, "the refusal must come from the API server")
			t.Logf("%s: HTTP %d %s", m.name, status.Status().Code, status.Status().Reason)
			assert.Contains(t, err.Error(), m.wantField)
		})
	}
	t.Logf("%d broken variants rejected", len(mutations))
}

// The broken Istio variants the lab shows istiod's webhook refusing pass
// the CRDs' schemas here (server-side dry run, no istiod): only Istio's
// own validation catches them, so they are no schema mutations.
func TestIstioValidationVariantsPassTheCRDSchemas(t *testing.T) {
	fixtureNamespaces(t)
	ctx := context.Background()
	for _, v := range istiovalidation.Variants {
		o, err := v.Build()
		require.NoError(t, err)
		// Its own name: other tests of this server applied the fixtures
		// the variants start from, and a dry-run create of an existing
		// name is refused as AlreadyExists before any schema runs.
		o.SetName(v.Name)
		ri, err := applier.Resource(o)
		require.NoError(t, err)
		_, err = ri.Create(ctx, o, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		assert.NoError(t, err, "%s: the CRD schema refuses it, so it shows nothing about istiod's validation", v.Name)
	}
	t.Logf("%d Istio validation variants accepted by the CRD schemas", len(istiovalidation.Variants))
}
