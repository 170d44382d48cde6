package harness

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/secure-inference/mesh-conformance/tests/cluster"
	"github.com/secure-inference/mesh-conformance/tests/matrix"
	"github.com/secure-inference/mesh-conformance/tests/options"
	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// What a suite needs to probe its ingress from the test machine, as a user
// outside the cluster would: the machine as a client, the address its
// ingress has here, and the claim check. The suites' kind configs publish
// the ingress's node port on 127.0.0.1 (kind-config/<suite>.yaml); on any
// other cluster the address is --ingress-address.

// ClientHost is the test machine: it reaches the ingress from outside the
// cluster, as a user would.
var ClientHost = matrix.Client{Name: "host", Local: true}

// HostIngressAddress is where this machine reaches the ingress of a
// suite's own kind cluster: the host address and port Docker published
// the ingress's node port on. The suites' kind configs leave the host port
// to kind, so each cluster (each mode, each --cluster-name) has one of its
// own, and a kept cluster of one mode never blocks the other.
func HostIngressAddress(ctx context.Context, k *cluster.Kind, nodePort int) (string, error) {
	return k.HostAddress(ctx, int32(nodePort))
}

// HostIngress is the address a host-side feature probes: --ingress-address
// when given, else the node port as published on the suite's own kind
// cluster (Facts.HostAddress; a placeholder in a dry run).
func HostIngress(ctx context.Context, o options.Options, f Facts, nodePort int) (string, error) {
	if o.IngressAddress != "" {
		return o.IngressAddress, nil
	}
	return f.HostAddress(ctx, nodePort)
}

// HostRequest is a request from this machine for host (the name the
// ingress routes, or serves a certificate for) at the ingress's address
// addr (HOST:PORT): the URL names host on addr's port, and curl's --resolve
// pins it to addr's host, since no DNS knows the name.
func HostRequest(scheme, host, addr, path string) probe.Request {
	ip, port, _ := net.SplitHostPort(addr)
	if strings.Contains(ip, ":") {
		ip = "[" + ip + "]" // curl's --resolve takes an IPv6 address in brackets
	}
	return probe.Request{URL: scheme + "://" + net.JoinHostPort(host, port) + path, Resolve: []string{host + ":" + port + ":" + ip}}
}

// CheckHostIngressClaim refuses, before any cluster is touched, a claim of
// a host-side feature on a cluster not the suite's own without an address
// to probe: only the suite's own kind config publishes the node port on
// this machine. what names the ingress in the error ("the TLS ingress").
func CheckHostIngressClaim(o options.Options, claimed func(Feature) bool, f Feature, what string) error {
	if !o.OwnKindCluster() && claimed(f) && o.IngressAddress == "" {
		return fmt.Errorf("%s is claimed but this machine's address of %s is unknown: pass --ingress-address=HOST:PORT, or --exempt-features=%s", f.Name, what, f.Name)
	}
	return nil
}
