package probe

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
)

// Pod names the container a probe runs in.
type Pod struct {
	Namespace string
	Name      string
	// Container is the application container to exec into. Never
	// istio-proxy: it runs as UID 1337, which Istio's iptables rules do not
	// capture, so its requests bypass the sidecar (see FACTS.md).
	Container string
	// Local is the test machine itself, not a pod: host-side probes (the
	// ingress as reached from outside the cluster) run the same script
	// there.
	Local bool
}

func (p Pod) String() string {
	if p.Local {
		return "this machine"
	}
	return p.Namespace + "/" + p.Name + ":" + p.Container
}

// Executor runs a command in a pod and returns its standard output and
// error. A non-zero exit of the command is not an error: the script reports
// per-request exit codes itself.
type Executor interface {
	Exec(ctx context.Context, pod Pod, cmd []string) (stdout, stderr []byte, err error)
}

// Run sends all requests from one pod in a single exec and classifies each.
// timeout bounds each request; the exec as a whole is bounded by the sum of
// the request timeouts plus a margin, so no round can hang.
func Run(ctx context.Context, ex Executor, pod Pod, reqs []Request, timeout time.Duration) ([]Outcome, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	budget := time.Duration(len(reqs))*timeout + 30*time.Second
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	stdout, stderr, err := ex.Exec(ctx, pod, []string{"sh", "-c", Script(reqs, timeout)})
	if err != nil && len(stdout) == 0 {
		return nil, fmt.Errorf("exec in %s: %w (stderr: %s)", pod, err, truncate(string(stderr), 300))
	}
	out := Parse(string(stdout)+"\n"+string(stderr), len(reqs))
	return out, nil
}

// PodExecutor execs through the API server's pods/exec subresource.
type PodExecutor struct {
	Config *rest.Config
	Client kubernetes.Interface
}

// Exec implements Executor; a Local pod is this machine.
func (e PodExecutor) Exec(ctx context.Context, pod Pod, cmd []string) ([]byte, []byte, error) {
	if pod.Local {
		return LocalExecutor{}.Exec(ctx, pod, cmd)
	}
	req := e.Client.CoreV1().RESTClient().Post().
		Resource("pods").Namespace(pod.Namespace).Name(pod.Name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: pod.Container,
			Command:   cmd,
			Stdout:    true,
			Stderr:    true,
		}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(e.Config, "POST", req.URL())
	if err != nil {
		return nil, nil, fmt.Errorf("preparing exec in %s: %w", pod, err)
	}
	var stdout, stderr bytes.Buffer
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	return stdout.Bytes(), stderr.Bytes(), err
}

// LocalExecutor runs the command on this machine, ignoring the pod. The unit
// tier uses it to run the very script a pod would run against local servers;
// host-side probes use it too.
type LocalExecutor struct{}

// Exec implements Executor.
func (LocalExecutor) Exec(ctx context.Context, _ Pod, cmd []string) ([]byte, []byte, error) {
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	if _, ok := err.(*exec.ExitError); ok {
		err = nil // the script's own exit status carries no verdict
	}
	return stdout.Bytes(), stderr.Bytes(), err
}
