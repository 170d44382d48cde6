package harness

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/secure-inference/mesh-conformance/tests/bypass"
	"github.com/secure-inference/mesh-conformance/tests/mesh"
	"github.com/secure-inference/mesh-conformance/tests/options"
)

// Facts are what only the cluster knows and a feature's matrices are
// built from: a run reads them from the cluster (*Env), a dry run shows
// placeholders in their place, so that one function (Feature.Matrices)
// gives the cells of both.
type Facts interface {
	// TrustDomain is the mesh's trust domain (Istio's mesh config).
	TrustDomain(ctx context.Context) (string, error)
	// ClusterIP is a Service's ClusterIP.
	ClusterIP(ctx context.Context, namespace, service string) (string, error)
	// Certificate is the PEM certificate (tls.crt) of a TLS Secret.
	Certificate(ctx context.Context, namespace, secret string) (string, error)
	// HostAddress is where this machine reaches a node port of the
	// suite's own kind cluster (the host address Docker published it on).
	HostAddress(ctx context.Context, nodePort int) (string, error)
	// Pods are a bypass target's pods with their ports.
	Pods(ctx context.Context, t bypass.Target) ([]bypass.Pod, error)
}

// FactError is a fact a feature's matrices needed and could not read: the
// harness records it as the feature's check <feature>/<Fact> (another
// error of a MatrixFunc as <feature>/matrices), and runs no matrix.
type FactError struct {
	Fact string
	Err  error
}

func (e *FactError) Error() string { return e.Err.Error() }
func (e *FactError) Unwrap() error { return e.Err }

// checkOf is the check a MatrixFunc's error fails.
func checkOf(err error) string {
	var fe *FactError
	if errors.As(err, &fe) {
		return fe.Fact
	}
	return "matrices"
}

func fact(name string, v string, err error) (string, error) {
	if err != nil {
		return "", &FactError{Fact: name, Err: err}
	}
	return v, nil
}

// TrustDomain reads the mesh config's trust domain (Istio's default
// without one).
func (e *Env) TrustDomain(ctx context.Context) (string, error) {
	td, err := mesh.TrustDomain(ctx, e.Kube)
	return fact("trust-domain", td, err)
}

// ClusterIP reads a Service's ClusterIP.
func (e *Env) ClusterIP(ctx context.Context, namespace, service string) (string, error) {
	svc, err := e.Kube.CoreV1().Services(namespace).Get(ctx, service, metav1.GetOptions{})
	if err != nil {
		return fact("cluster-ip", "", fmt.Errorf("Service %s/%s: %w", namespace, service, err))
	}
	return svc.Spec.ClusterIP, nil
}

// Certificate reads the PEM certificate of a TLS Secret.
func (e *Env) Certificate(ctx context.Context, namespace, secret string) (string, error) {
	s, err := e.Kube.CoreV1().Secrets(namespace).Get(ctx, secret, metav1.GetOptions{})
	if err != nil {
		return fact("certificate", "", fmt.Errorf("secret %s/%s: %w", namespace, secret, err))
	}
	if len(s.Data["tls.crt"]) == 0 {
		return fact("certificate", "", fmt.Errorf("secret %s/%s has no tls.crt", namespace, secret))
	}
	return string(s.Data["tls.crt"]), nil
}

// HostAddress asks kind where Docker published a node port; a run on a
// cluster it did not create has no such address.
func (e *Env) HostAddress(ctx context.Context, nodePort int) (string, error) {
	if e.run.Kind == nil {
		return fact("host-address", "", fmt.Errorf("this run uses a cluster it did not create, whose ingress address on this machine is unknown: pass --ingress-address=HOST:PORT"))
	}
	addr, err := HostIngressAddress(ctx, e.run.Kind, nodePort)
	return fact("host-address", addr, err)
}

// Pods lists a bypass target's running pods and enumerates their ports.
func (e *Env) Pods(ctx context.Context, t bypass.Target) ([]bypass.Pod, error) {
	return bypass.Live(ctx, e.Kube, t, e.Mode)
}

// placeholders are the facts of a dry run: what the run would read, named.
type placeholders struct{ o options.Options }

func (placeholders) TrustDomain(context.Context) (string, error) {
	return "<trust domain of the istio ConfigMap>", nil
}

func (placeholders) ClusterIP(_ context.Context, namespace, service string) (string, error) {
	return fmt.Sprintf("<ClusterIP of Service %s/%s>", namespace, service), nil
}

func (placeholders) Certificate(_ context.Context, namespace, secret string) (string, error) {
	return fmt.Sprintf("<certificate of secret %s/%s>", namespace, secret), nil
}

func (placeholders) HostAddress(_ context.Context, nodePort int) (string, error) {
	return fmt.Sprintf("127.0.0.1:<host port kind published for node port %d>", nodePort), nil
}

// Pods are the target's sketched pods, with placeholder names and IPs.
func (p placeholders) Pods(_ context.Context, t bypass.Target) ([]bypass.Pod, error) {
	return []bypass.Pod{bypass.Sketched(t, p.o.Mode)}, nil
}
