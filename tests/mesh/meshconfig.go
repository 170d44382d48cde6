// Package mesh reads what the installed Istio says about itself: its mesh
// configuration, parsed with Istio's own MeshConfig type.
package mesh

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// Where istiod keeps the default revision's mesh configuration.
const (
	ConfigNamespace = "istio-system"
	ConfigMap       = "istio"
	ConfigKey       = "mesh"
	// DefaultTrustDomain is Istio's default when the mesh config names none.
	DefaultTrustDomain = "cluster.local"
)

// ParseConfig reads the YAML of the ConfigMap's mesh key into Istio's
// MeshConfig. Fields this Istio API does not know are ignored, as istiod
// itself does with a newer config.
func ParseConfig(data string) (*meshv1alpha1.MeshConfig, error) {
	mc := &meshv1alpha1.MeshConfig{}
	if strings.TrimSpace(data) == "" {
		return mc, nil // istiod's defaults
	}
	js, err := yaml.YAMLToJSON([]byte(data))
	if err != nil {
		return nil, err
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(js, mc); err != nil {
		return nil, err
	}
	return mc, nil
}

// TrustDomain is the mesh's trust domain (the host part of every workload's
// SPIFFE identity): the mesh config's trustDomain, or Istio's default.
func TrustDomain(ctx context.Context, kube kubernetes.Interface) (string, error) {
	cm, err := kube.CoreV1().ConfigMaps(ConfigNamespace).Get(ctx, ConfigMap, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("reading the mesh config %s/%s: %w", ConfigNamespace, ConfigMap, err)
	}
	mc, err := ParseConfig(cm.Data[ConfigKey])
	if err != nil {
		return "", fmt.Errorf("parsing the mesh config %s/%s key %q: %w", ConfigNamespace, ConfigMap, ConfigKey, err)
	}
	if td := mc.GetTrustDomain(); td != "" {
		return td, nil
	}
	return DefaultTrustDomain, nil
}
