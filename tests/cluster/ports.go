package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	kindv1alpha4 "sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

// PortMapping is one extra port mapping of a kind config: a node's
// container port published on the host. HostPort 0 lets kind pick a free
// host port when it creates the node (kind's docker provider,
// generatePortMappings: "get a random port if necessary (port = 0)"), so
// any number of clusters made from one config never collide.
type PortMapping struct {
	ContainerPort int32
	Protocol      string // tcp, udp or sctp, as Docker names them
	HostPort      int32  // 0: any free port
	ListenAddress string // empty: every address
}

// Key is the container side as Docker's port bindings name it: "30443/tcp".
func (m PortMapping) Key() string { return fmt.Sprintf("%d/%s", m.ContainerPort, m.Protocol) }

func (m PortMapping) String() string {
	if m.HostPort == 0 {
		return m.Key() + "->any host port"
	}
	return fmt.Sprintf("%s->%d", m.Key(), m.HostPort)
}

// PortMappings lists a kind config's extra port mappings.
func PortMappings(configFile string) ([]PortMapping, error) {
	data, err := os.ReadFile(configFile)
	if err != nil {
		return nil, fmt.Errorf("kind config %s: %w", configFile, err)
	}
	var cfg kindv1alpha4.Cluster
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("kind config %s: %w", configFile, err)
	}
	var out []PortMapping
	for _, n := range cfg.Nodes {
		for _, m := range n.ExtraPortMappings {
			proto := strings.ToLower(string(m.Protocol))
			if proto == "" {
				proto = "tcp"
			}
			out = append(out, PortMapping{ContainerPort: m.ContainerPort, Protocol: proto, HostPort: m.HostPort, ListenAddress: m.ListenAddress})
		}
	}
	return out, nil
}

// Binding is one published port of a running container: its container
// side ("30443/tcp") on a host address and port.
type Binding struct {
	Key      string
	HostIP   string
	HostPort int32
}

// Container is a running container of the Docker engine with the ports
// it publishes, and the kind cluster it is a node of, if any.
type Container struct {
	Name, KindCluster string
	Bindings          []Binding
}

// dockerTimeout bounds one docker CLI call.
const dockerTimeout = 20 * time.Second

// RunningContainers lists every running container of the Docker engine
// with its published ports (docker ps, then one docker inspect).
func RunningContainers(ctx context.Context) ([]Container, error) {
	ctx, cancel := context.WithTimeout(ctx, dockerTimeout)
	defer cancel()
	ids, err := exec.CommandContext(ctx, "docker", "ps", "-q", "--no-trunc").Output()
	if err != nil {
		return nil, fmt.Errorf("docker ps: %w", err)
	}
	if len(strings.Fields(string(ids))) == 0 {
		return nil, nil
	}
	args := append([]string{"inspect", "--format",
		`{{json .Name}} {{json (index .Config.Labels "io.x-k8s.kind.cluster")}} {{json .NetworkSettings.Ports}}`}, strings.Fields(string(ids))...)
	out, err := exec.CommandContext(ctx, "docker", args...).Output()
	if err != nil {
		// A container may have gone between ps and inspect; the others
		// are still printed.
		var ee *exec.ExitError
		if !errors.As(err, &ee) || len(out) == 0 {
			return nil, fmt.Errorf("docker inspect: %w", err)
		}
	}
	return parseInspect(string(out))
}

// parseInspect reads RunningContainers' inspect lines: the name, the kind
// cluster label and NetworkSettings.Ports, each as JSON.
func parseInspect(out string) ([]Container, error) {
	var list []Container
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(line))
		var name, cluster string
		var ports map[string][]struct{ HostIp, HostPort string }
		if err := dec.Decode(&name); err != nil {
			return nil, fmt.Errorf("docker inspect: %q: %w", line, err)
		}
		_ = dec.Decode(&cluster) // null when the label is absent
		if err := dec.Decode(&ports); err != nil {
			return nil, fmt.Errorf("docker inspect: %q: %w", line, err)
		}
		c := Container{Name: strings.TrimPrefix(name, "/"), KindCluster: cluster}
		for key, bs := range ports {
			for _, b := range bs {
				p, err := strconv.Atoi(b.HostPort)
				if err != nil {
					continue
				}
				c.Bindings = append(c.Bindings, Binding{Key: key, HostIP: b.HostIp, HostPort: int32(p)})
			}
		}
		list = append(list, c)
	}
	return list, nil
}

// anyAddress tells whether a listen address means every address of the host.
func anyAddress(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }

// overlaps tells whether two listen addresses share a host socket: equal,
// or either of them every address.
func overlaps(a, b string) bool {
	return anyAddress(a) || anyAddress(b) || net.ParseIP(a).Equal(net.ParseIP(b))
}

// Holder is a container that already publishes a host port a kind config
// asks for.
type Holder struct {
	Mapping   PortMapping
	Container Container
}

func (h Holder) String() string {
	what := "container " + h.Container.Name
	if h.Container.KindCluster != "" {
		what += " (a node of the kind cluster " + h.Container.KindCluster + ")"
	}
	addr := h.Mapping.ListenAddress
	if addr == "" {
		addr = "0.0.0.0"
	}
	return fmt.Sprintf("host port %s (%s) is held by %s", net.JoinHostPort(addr, strconv.Itoa(int(h.Mapping.HostPort))), h.Mapping.String(), what)
}

// PortHolders finds, for each mapping with a fixed host port, the running
// containers that publish the same host port and protocol on an
// overlapping address: Docker would refuse the new node ("port is already
// allocated").
func PortHolders(want []PortMapping, running []Container) []Holder {
	var out []Holder
	for _, m := range want {
		if m.HostPort == 0 {
			continue
		}
		for _, c := range running {
			for _, b := range c.Bindings {
				if b.HostPort == m.HostPort && strings.HasSuffix(b.Key, "/"+m.Protocol) && overlaps(b.HostIP, m.ListenAddress) {
					out = append(out, Holder{Mapping: m, Container: c})
					break
				}
			}
		}
	}
	return out
}

// checkHostPorts refuses to create a cluster whose config maps a fixed host
// port that something already holds: a running container of the engine
// (any of them, not only a cluster of the same name: a kept or leaked
// cluster of another suite or mode), named with the fix, or a process of
// this machine.
func (k *Kind) checkHostPorts(ctx context.Context, configFile string) error {
	if configFile == "" {
		return nil
	}
	want, err := PortMappings(configFile)
	if err != nil || len(want) == 0 {
		return err
	}
	running, err := RunningContainers(ctx)
	if err != nil {
		return fmt.Errorf("kind: checking the host ports %s needs: %w", configFile, err)
	}
	if held := PortHolders(want, running); len(held) > 0 {
		var what, fixes []string
		for _, h := range held {
			what = append(what, h.String())
			fix := "docker rm -f " + h.Container.Name
			if h.Container.KindCluster != "" {
				fix = "kind delete cluster --name " + h.Container.KindCluster
			}
			if !slices.Contains(fixes, fix) {
				fixes = append(fixes, fix)
			}
		}
		return fmt.Errorf("kind: cannot create cluster %q: %s; nothing was created. Free the port (%s), "+
			"or use a kind config that maps other host ports (hostPort 0 or none lets kind choose free ones)",
			k.name, strings.Join(what, "; "), strings.Join(fixes, ", "))
	}
	for _, m := range want {
		if m.HostPort == 0 || m.Protocol != "tcp" {
			continue
		}
		addr := net.JoinHostPort(m.ListenAddress, strconv.Itoa(int(m.HostPort)))
		l, err := net.Listen("tcp", addr)
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("kind: cannot create cluster %q: host port %s (%s) is held by a process of this machine that is not a container "+
				"(find it with ss -ltnp 'sport = :%d'); nothing was created. Stop it, or use a kind config that maps other host ports",
				k.name, addr, m.String(), m.HostPort)
		}
		if err == nil {
			l.Close()
		}
	}
	return nil
}

// HostAddress is where this machine reaches a node's container port
// (tcp) of the cluster: the host address and port Docker published it on,
// chosen by kind when the config leaves the host port to it.
func (k *Kind) HostAddress(ctx context.Context, containerPort int32) (string, error) {
	nodes, err := k.provider.ListNodes(k.name)
	if err != nil {
		return "", fmt.Errorf("kind: listing the nodes of %q: %w", k.name, err)
	}
	running, err := RunningContainers(ctx)
	if err != nil {
		return "", err
	}
	key := fmt.Sprintf("%d/tcp", containerPort)
	for _, n := range nodes {
		for _, c := range running {
			if c.Name != n.String() {
				continue
			}
			for _, b := range c.Bindings {
				if b.Key == key {
					ip := b.HostIP
					if anyAddress(ip) {
						ip = "127.0.0.1"
					}
					return net.JoinHostPort(ip, strconv.Itoa(int(b.HostPort))), nil
				}
			}
		}
	}
	return "", fmt.Errorf("kind: no node of %q publishes port %s on the host (was it made with another kind config?)", k.name, key)
}
