package matrix

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// Clients finds each client's pod and remembers it across rounds: by its
// selector the first time a round needs it, and again after an exec in it
// failed (the pod was killed, evicted, its node restarted: its Deployment
// brings a new one, found by the same selector).
type Clients struct {
	Resolve Resolver

	mu   sync.Mutex
	pods map[Client]probe.Pod
}

// Find returns the client's pod, resolving it when none is known.
func (cl *Clients) Find(ctx context.Context, c Client) (probe.Pod, error) {
	cl.mu.Lock()
	pod, known := cl.pods[c]
	cl.mu.Unlock()
	if known {
		return pod, nil
	}
	pod, err := cl.Resolve(ctx, c)
	if err != nil {
		return probe.Pod{}, fmt.Errorf("client %s (%s, %s) has no ready pod: %w", c.Name, c.Namespace, c.Selector, err)
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.pods == nil {
		cl.pods = map[Client]probe.Pod{}
	}
	cl.pods[c] = pod
	return pod, nil
}

// forget makes the next Find resolve the client again.
func (cl *Clients) forget(c Client) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	delete(cl.pods, c)
}

// Probed is one cell's part of a round: what it observed, or the
// environment error that kept it from observing anything (no verdict).
type Probed struct {
	Outcome probe.Outcome
	EnvErr  error
}

// ProbeRound sends the cells idx of m once: each client's requests in one
// exec, the clients in parallel. findLimit bounds finding a client's pod
// (a matrix allows its remaining time, a disruption one round's). The
// result has an entry for every index of idx.
func ProbeRound(ctx context.Context, m Matrix, idx []int, ex probe.Executor, cl *Clients, timeout time.Duration,
	findLimit func(context.Context) (context.Context, context.CancelFunc)) map[int]Probed {
	byClient := map[Client][]int{}
	var clients []Client
	for _, i := range idx {
		c := m.Cells[i].Client
		if _, seen := byClient[c]; !seen {
			clients = append(clients, c)
		}
		byClient[c] = append(byClient[c], i)
	}
	out := make(map[int]Probed, len(idx))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func(c Client, idx []int) {
			defer wg.Done()
			envErr := func(err error) {
				cl.forget(c) // find the client again next round
				mu.Lock()
				defer mu.Unlock()
				for _, i := range idx {
					out[i] = Probed{EnvErr: err}
				}
			}
			fctx, cancel := findLimit(ctx)
			pod, err := cl.Find(fctx, c)
			cancel()
			if err != nil {
				envErr(err)
				return
			}
			reqs := make([]probe.Request, len(idx))
			for j, i := range idx {
				reqs[j] = m.Cells[i].Request
			}
			outs, err := probe.Run(ctx, ex, pod, reqs, timeout)
			if err != nil {
				// An exec that failed or was cut observed nothing about
				// the cluster's enforcement: no verdict from it.
				envErr(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for j, i := range idx {
				out[i] = Probed{Outcome: outs[j]}
			}
		}(c, byClient[c])
	}
	wg.Wait()
	return out
}
