//go:build lab

package lab

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secure-inference/mesh-conformance/tests/provenance"
	reportapi "github.com/secure-inference/mesh-conformance/tests/report/apis/v1alpha1"
)

// The image digests provenance records (from pod status, through the API
// server) are the ones containerd holds: for each image, the digest
// containerd's own image store gives its reference on the nodes
// (`ctr -n k8s.io images ls`, read inside each node container) is the
// digest in the report. A report whose digest differs is caught.
func TestProvenanceDigestsMatchContainerd(t *testing.T) {
	ctx := context.Background()
	namespaces := []string{"kube-system", "mc-baseline", "user1", "default", "chatqna"}
	cp, err := provenance.ClusterOf(ctx, kube, namespaces)
	require.NoError(t, err)
	require.NotEmpty(t, cp.Images)

	store := map[string]map[string]bool{} // reference -> digests, over the nodes
	nodes, err := exec.Command("docker", "ps", "--filter", "label=io.x-k8s.kind.cluster="+clusterName, "--format", "{{.Names}}").Output()
	require.NoError(t, err)
	require.NotEmpty(t, strings.Fields(string(nodes)))
	for _, node := range strings.Fields(string(nodes)) {
		out, err := exec.Command("docker", "exec", node, "ctr", "-n", "k8s.io", "images", "ls").CombinedOutput()
		require.NoError(t, err, string(out))
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n")[1:] { // REF TYPE DIGEST ...
			f := strings.Fields(line)
			if len(f) >= 3 {
				if store[f[0]] == nil {
					store[f[0]] = map[string]bool{}
				}
				store[f[0]][f[2]] = true
			}
		}
	}
	assert.Empty(t, digestMismatches(cp.Images, store))
	t.Logf("%d images of %v: every digest is containerd's", len(cp.Images), namespaces)

	// The comparison can fail: a digest containerd does not hold.
	forged := append([]reportapi.Image(nil), cp.Images...)
	forged[0].ImageID = forged[0].ImageID[:strings.LastIndex(forged[0].ImageID, ":")+1] + strings.Repeat("0", 64)
	assert.Len(t, digestMismatches(forged, store), 1)
}

// digestMismatches lists each image whose digest (the part of its ImageID
// after '@', or the whole ID) containerd does not hold for its reference,
// or holds besides another.
func digestMismatches(images []reportapi.Image, store map[string]map[string]bool) []string {
	var bad []string
	for _, im := range images {
		digest := im.ImageID[strings.LastIndex(im.ImageID, "@")+1:]
		held := store[im.Image]
		if !held[digest] || len(held) != 1 {
			bad = append(bad, fmt.Sprintf("%s in %s: report %s, containerd %v", im.Image, im.Namespace, digest, held))
		}
	}
	return bad
}
