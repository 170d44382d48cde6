package upstream_test

import (
	"os/exec"
	"testing"

	"github.com/secure-inference/mesh-conformance/suites/kservemesh"
	"github.com/secure-inference/mesh-conformance/tests/upstream"
)

// The lab builds KServe's control plane from the modules of the KServe
// suite's pins; its script reads them from the suite's source with sed, so
// a reformatted Versions block must fail here, not build the wrong version.
func TestKServeBinsBuildTheSuitesPins(t *testing.T) {
	out, err := exec.Command("bash", "../../lab/scripts/kserve-bins.sh", "--versions").CombinedOutput()
	if err != nil {
		t.Fatalf("kserve-bins.sh --versions: %v\n%s", err, out)
	}
	knative := upstream.KnativeModuleVersion(kservemesh.Versions.KnativeServing)
	want := "knative.dev/serving " + knative + "\nknative.dev/operator " + knative + "\ngithub.com/kserve/kserve " + kservemesh.Versions.KServe + "\n"
	if got := string(out); got != want {
		t.Errorf("kserve-bins.sh builds\n%s\nthe suite pins\n%s", got, want)
	}
}

// The lab builds istiod and the CNI binaries from the Istio module whose
// charts the suites use; its script reads the version from upstream.go
// with sed, so a reformatted constant must fail here, not build another.
func TestIstioBinsBuildTheChartsModule(t *testing.T) {
	out, err := exec.Command("bash", "../../lab/scripts/istio-bins.sh", "--versions").CombinedOutput()
	if err != nil {
		t.Fatalf("istio-bins.sh --versions: %v\n%s", err, out)
	}
	if got, want := string(out), "istio.io/istio "+upstream.IstioModuleVersion+"\n"; got != want {
		t.Errorf("istio-bins.sh builds\n%s\nupstream.IstioModuleVersion is\n%s", got, want)
	}
}

// OfModule keeps exactly the named module's sources: the Knative lab gets
// Istio's CRDs and nothing else, the API server tier cert-manager's.
func TestOfModule(t *testing.T) {
	all := upstream.CRDSources(kservemesh.Versions, kservemesh.Versions)
	for _, module := range []string{"istio.io/api", "github.com/cert-manager/cert-manager"} {
		got := upstream.OfModule(all, module)
		if len(got) != 1 || got[0].Module != module {
			t.Errorf("OfModule(%s) = %+v, want its one source", module, got)
		}
	}
	if got := upstream.OfModule(all, "example.com/none"); len(got) != 0 {
		t.Errorf("OfModule of an unknown module = %+v, want none", got)
	}
}
