// Package capacity compares what a suite will ask the scheduler for with
// what the cluster's nodes have left, so a run that cannot fit stops before
// installing anything, with the numbers, instead of timing out on a
// Pending pod half an hour later.
package capacity

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Request is what one workload of the suite asks for: the sum of its
// containers' requests times its replicas (init containers run first and
// alone, so they never add to it).
type Request struct {
	// What names the workload and where the figure comes from.
	What   string
	CPU    resource.Quantity
	Memory resource.Quantity
}

// Req builds a Request from quantities like "100m" and "128Mi".
func Req(what, cpu, memory string) Request {
	return Request{What: what, CPU: resource.MustParse(cpu), Memory: resource.MustParse(memory)}
}

// Free is what the schedulable nodes have left.
type Free struct {
	Nodes int
	// Allocatable and Requested are summed over schedulable nodes;
	// LargestCPU and LargestMemory are the most any one node has left, which
	// bounds the largest single pod.
	AllocatableCPU, AllocatableMemory resource.Quantity
	RequestedCPU, RequestedMemory     resource.Quantity
	LargestCPU, LargestMemory         resource.Quantity
}

// Measure reads the nodes' allocatable resources and the requests of the
// pods that hold them (every pod not yet Succeeded or Failed).
func Measure(ctx context.Context, kube kubernetes.Interface) (Free, error) {
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return Free{}, fmt.Errorf("listing nodes: %w", err)
	}
	pods, err := kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return Free{}, fmt.Errorf("listing pods: %w", err)
	}
	return compute(nodes.Items, pods.Items), nil
}

func compute(nodes []corev1.Node, pods []corev1.Pod) Free {
	var f Free
	usedCPU, usedMem := map[string]*resource.Quantity{}, map[string]*resource.Quantity{}
	for _, p := range pods {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.Spec.NodeName == "" {
			continue
		}
		cpu, mem := PodRequests(p.Spec)
		if usedCPU[p.Spec.NodeName] == nil {
			usedCPU[p.Spec.NodeName], usedMem[p.Spec.NodeName] = &resource.Quantity{}, &resource.Quantity{}
		}
		usedCPU[p.Spec.NodeName].Add(cpu)
		usedMem[p.Spec.NodeName].Add(mem)
	}
	for _, n := range nodes {
		if n.Spec.Unschedulable || hasNoSchedule(n) {
			continue
		}
		f.Nodes++
		cpu, mem := n.Status.Allocatable[corev1.ResourceCPU], n.Status.Allocatable[corev1.ResourceMemory]
		f.AllocatableCPU.Add(cpu)
		f.AllocatableMemory.Add(mem)
		if u := usedCPU[n.Name]; u != nil {
			f.RequestedCPU.Add(*u)
			f.RequestedMemory.Add(*usedMem[n.Name])
			cpu.Sub(*u)
			mem.Sub(*usedMem[n.Name])
		}
		if cpu.Cmp(f.LargestCPU) > 0 {
			f.LargestCPU = cpu
		}
		if mem.Cmp(f.LargestMemory) > 0 {
			f.LargestMemory = mem
		}
	}
	return f
}

// hasNoSchedule tells whether a node refuses ordinary pods (a control
// plane tainted NoSchedule on a multi-node cluster). kind's single node is
// untainted.
func hasNoSchedule(n corev1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule {
			return true
		}
	}
	return false
}

// Container is a container that requests cpu and memory, to build the pod
// specs PodRequests counts.
func Container(name string, cpu, memory resource.Quantity) corev1.Container {
	return corev1.Container{Name: name, Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: memory}}}
}

// NativeSidecar is r as Istio 1.27 injects istio-proxy on Kubernetes
// 1.33+: an init container with restartPolicy Always, running beside
// every later init container and the containers.
func NativeSidecar(r Request) corev1.Container {
	always := corev1.ContainerRestartPolicyAlways
	c := Container("istio-proxy", r.CPU, r.Memory)
	c.RestartPolicy = &always
	return c
}

// PodRequests is what the scheduler counts for a pod (KEP-753): its
// containers plus its native sidecars (init containers that keep running,
// as Istio injects istio-proxy on Kubernetes 1.33+), or, if more, an init
// container with the sidecars started before it.
func PodRequests(spec corev1.PodSpec) (resource.Quantity, resource.Quantity) {
	var cpu, mem, sideCPU, sideMem, initCPU, initMem resource.Quantity
	for _, c := range spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sideCPU.Add(c.Resources.Requests[corev1.ResourceCPU])
			sideMem.Add(c.Resources.Requests[corev1.ResourceMemory])
			continue
		}
		q := c.Resources.Requests[corev1.ResourceCPU]
		q.Add(sideCPU)
		if q.Cmp(initCPU) > 0 {
			initCPU = q
		}
		m := c.Resources.Requests[corev1.ResourceMemory]
		m.Add(sideMem)
		if m.Cmp(initMem) > 0 {
			initMem = m
		}
	}
	for _, c := range spec.Containers {
		cpu.Add(c.Resources.Requests[corev1.ResourceCPU])
		mem.Add(c.Resources.Requests[corev1.ResourceMemory])
	}
	cpu.Add(sideCPU)
	mem.Add(sideMem)
	if initCPU.Cmp(cpu) > 0 {
		cpu = initCPU
	}
	if initMem.Cmp(mem) > 0 {
		mem = initMem
	}
	return cpu, mem
}

// Check fails when the requests cannot fit in what is free: in total, or
// the largest one on any single node. The error gives the numbers and the
// biggest requests, largest first.
func Check(f Free, need []Request) error {
	var cpu, mem resource.Quantity
	var biggest Request
	for _, r := range need {
		cpu.Add(r.CPU)
		mem.Add(r.Memory)
		if r.CPU.Cmp(biggest.CPU) > 0 || (r.CPU.Cmp(biggest.CPU) == 0 && r.Memory.Cmp(biggest.Memory) > 0) {
			biggest = r
		}
	}
	freeCPU, freeMem := f.AllocatableCPU.DeepCopy(), f.AllocatableMemory.DeepCopy()
	freeCPU.Sub(f.RequestedCPU)
	freeMem.Sub(f.RequestedMemory)
	var short []string
	if cpu.Cmp(freeCPU) > 0 {
		short = append(short, fmt.Sprintf("CPU: the suite requests %s, the nodes have %s free (%s allocatable, %s already requested)",
			milli(cpu), milli(freeCPU), milli(f.AllocatableCPU), milli(f.RequestedCPU)))
	}
	if mem.Cmp(freeMem) > 0 {
		short = append(short, fmt.Sprintf("memory: the suite requests %s, the nodes have %s free (%s allocatable, %s already requested)",
			mi(mem), mi(freeMem), mi(f.AllocatableMemory), mi(f.RequestedMemory)))
	}
	if len(short) == 0 && (biggest.CPU.Cmp(f.LargestCPU) > 0 || biggest.Memory.Cmp(f.LargestMemory) > 0) {
		short = append(short, fmt.Sprintf("%s requests %s CPU / %s, more than any one node has free (at most %s / %s)",
			biggest.What, milli(biggest.CPU), mi(biggest.Memory), milli(f.LargestCPU), mi(f.LargestMemory)))
	}
	if len(short) == 0 {
		return nil
	}
	return fmt.Errorf("the cluster cannot schedule this suite on %d schedulable node(s): %s; largest requests: %s. "+
		"Use a bigger machine or node (Docker Desktop: raise its CPU and memory), or a cluster with room",
		f.Nodes, strings.Join(short, "; "), Largest(need, 5))
}

// Largest lists the n largest requests by CPU, as "what cpu/memory".
func Largest(need []Request, n int) string {
	sorted := append([]Request(nil), need...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].CPU.Cmp(sorted[j].CPU) > 0 })
	if len(sorted) > n {
		sorted = sorted[:n]
	}
	out := make([]string, len(sorted))
	for i, r := range sorted {
		out[i] = fmt.Sprintf("%s %s/%s", r.What, milli(r.CPU), mi(r.Memory))
	}
	return strings.Join(out, ", ")
}

// Sum adds up requests.
func Sum(need []Request) (cpu, memory resource.Quantity) {
	for _, r := range need {
		cpu.Add(r.CPU)
		memory.Add(r.Memory)
	}
	return cpu, memory
}

func milli(q resource.Quantity) string { return fmt.Sprintf("%dm", q.MilliValue()) }
func mi(q resource.Quantity) string    { return fmt.Sprintf("%dMi", q.Value()>>20) }
