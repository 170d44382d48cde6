package bypass

import (
	"context"
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/secure-inference/mesh-conformance/tests/dataplane"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// Target is a protected workload: its pods are found by Selector in
// Namespace when the assessment runs (their IPs exist only then).
type Target struct {
	// Workload names it in cells and tables ("sklearn-iris").
	Workload  string
	Namespace string
	Selector  string
	// ModelPath, when set, is also requested on every application port:
	// a port that serves the model is the bypass that matters most.
	ModelPath string
	// Models are the names a refusal must not reveal, and that an
	// informational answer (a metrics page) is searched for.
	Models []string
	// Sketch are the containers the workload's pods are expected to have,
	// for --dry-run alone (no cluster): the run reads the live pods.
	Sketch []corev1.Container
	// Undeclared are ports the workload's own containers listen on without
	// declaring them in the pod spec (each with its Container, Purpose and
	// Source): probed on every pod that has that container, like the
	// declared application ports.
	Undeclared []Port
}

// Pod is one live pod of a target with the ports to probe.
type Pod struct {
	Name  string
	IP    string
	Ports []Port
}

// Probe is what one cell of a plan probes, for the attack-surface table.
type Probe struct {
	Target Target
	Pod    Pod
	Port   Port
}

// Plan is the bypass probes of a set of targets: Enforced expects a
// refusal on every port but the informational ones, which Informational
// observes.
type Plan struct {
	Enforced      matrix.Matrix
	Informational matrix.Matrix
	// Probes are what each cell probes, by cell name.
	Probes map[string]Probe
}

// TargetPods are a target and its pods.
type TargetPods struct {
	Target Target
	Pods   []Pod
}

// Build makes the cells: from each client, to each port of each pod of
// each target, http://<pod IP>:<port>/ (https:// without certificate
// verification on a TLS port), and the model path on application ports. Cell names are stable across runs (pod names are not: the second
// pod of a workload is "-pod2").
func Build(name string, targets []TargetPods, clients []matrix.Client) Plan {
	p := Plan{Enforced: matrix.Matrix{Name: name}, Informational: matrix.Matrix{Name: name + "-informational"}, Probes: map[string]Probe{}}
	for _, tp := range targets {
		t := tp.Target
		for i, pod := range tp.Pods {
			podPart := ""
			if i > 0 {
				podPart = "-pod" + strconv.Itoa(i+1)
			}
			for _, port := range pod.Ports {
				scheme := "http://"
				if port.TLS {
					scheme = "https://"
				}
				base := scheme + net.JoinHostPort(pod.IP, strconv.Itoa(int(port.Number)))
				paths := []string{"/"}
				switch {
				case port.Informational:
					paths = []string{port.Path}
				case port.App && t.ModelPath != "":
					paths = append(paths, t.ModelPath)
				}
				for j, path := range paths {
					suffix := ""
					if j > 0 {
						suffix = "-model"
					}
					for _, c := range clients {
						cell := matrix.Cell{
							Name:    fmt.Sprintf("%s-to-%s%s-%d%s", c.Name, t.Workload, podPart, port.Number, suffix),
							Client:  c,
							Request: probe.Request{URL: base + path, Find: t.Models, HTTP2: port.HTTP2, Insecure: port.TLS},
						}
						where := fmt.Sprintf("%s on %s (%s)", port.Purpose, port.Container, pod.Name)
						if port.Informational {
							cell.Expect = matrix.Expect(matrix.Observed).WithNote("documented plaintext port, not captured by the sidecar: " + where)
							p.Informational.Cells = append(p.Informational.Cells, cell)
						} else {
							cell.Expect = matrix.Expect(matrix.AnyRefusal).WithHides(t.Models...).WithNote("bypass by pod IP: " + where)
							p.Enforced.Cells = append(p.Enforced.Cells, cell)
						}
						p.Probes[cell.Name] = Probe{Target: t, Pod: pod, Port: port}
					}
				}
			}
		}
	}
	return p
}

// Live finds a target's running pods with their IPs and ports. No running
// pod is an error: probing nothing would prove nothing.
func Live(ctx context.Context, kube kubernetes.Interface, t Target, mode dataplane.Mode) ([]Pod, error) {
	list, err := kube.CoreV1().Pods(t.Namespace).List(ctx, metav1.ListOptions{LabelSelector: t.Selector})
	if err != nil {
		return nil, fmt.Errorf("listing the pods of %s (%s in %s): %w", t.Workload, t.Selector, t.Namespace, err)
	}
	var out []Pod
	for i := range list.Items {
		pod := &list.Items[i]
		if pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP == "" || pod.DeletionTimestamp != nil {
			continue
		}
		out = append(out, Pod{Name: pod.Name, IP: pod.Status.PodIP, Ports: Enumerate(pod, mode, t.Undeclared...)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no running pod with an IP (%s in %s): no bypass path could be probed", t.Workload, t.Selector, t.Namespace)
	}
	return out, nil
}

// Sketched is a target's expected pod for --dry-run: its Sketch containers
// (with the mesh's sidecar in sidecar mode), and a placeholder IP.
func Sketched(t Target, mode dataplane.Mode) Pod {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: t.Sketch}}
	if mode != dataplane.Ambient {
		pod.Spec.Containers = append(append([]corev1.Container(nil), t.Sketch...), corev1.Container{Name: IstioProxy,
			Ports: []corev1.ContainerPort{{Name: "http-envoy-prom", ContainerPort: 15090, Protocol: corev1.ProtocolTCP}}})
	}
	return Pod{Name: "<pod of " + t.Workload + ">", IP: "<pod-ip-of-" + t.Workload + ">", Ports: Enumerate(pod, mode, t.Undeclared...)}
}
