// Package probetest holds a scripted probe.Executor for the tests of what
// runs probes (the matrix engine, the disruption loop), as net/http/httptest
// does for HTTP: it answers the probe script's transfers from a table and
// prints what the real script prints, so probe.Parse runs too.
package probetest

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// Answer is one scripted curl result: exit code, HTTP status, body.
type Answer struct {
	Exit int
	Code int
	Body string
}

// Scripted answers each "<pod> <url>" with the next answer of its sequence
// (the last one repeats). Fail, when set, makes a pod's n-th exec (from 0)
// fail with its error.
type Scripted struct {
	Fail func(pod string, exec int) error

	mu    sync.Mutex
	seq   map[string][]Answer
	calls map[string]int
	execs map[string]int
}

// New returns a Scripted executor with the sequences of answers.
func New(seq map[string][]Answer) *Scripted {
	return &Scripted{seq: seq, calls: map[string]int{}, execs: map[string]int{}}
}

// Execs counts the execs in a pod.
func (s *Scripted) Execs(pod string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.execs[pod]
}

// transfer finds each transfer of the script's one curl: its body file
// names its id, --url its URL.
var transfer = regexp.MustCompile(`-o "\$t/b(\d+)" .*? '--url' '([^']*)'`)

// Exec implements probe.Executor.
func (s *Scripted) Exec(_ context.Context, pod probe.Pod, cmd []string) ([]byte, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.execs[pod.Name]
	s.execs[pod.Name]++
	if s.Fail != nil {
		if err := s.Fail(pod.Name, n); err != nil {
			return nil, nil, err
		}
	}
	var out strings.Builder
	for _, m := range transfer.FindAllStringSubmatch(cmd[2], -1) {
		id, url := m[1], m[2]
		key := pod.Name + " " + url
		seq := s.seq[key]
		if len(seq) == 0 {
			return nil, nil, fmt.Errorf("no script for %q", key)
		}
		a := seq[min(s.calls[key], len(seq)-1)]
		s.calls[key]++
		fmt.Fprintf(&out, "@@mc %s exit %d\n@@mc %s wo {\"http_code\":%d,\"errormsg\":\"scripted\"}\n@@mc %s body %s\n",
			id, a.Exit, id, a.Code, id, base64.StdEncoding.EncodeToString([]byte(a.Body)))
	}
	return []byte(out.String()), nil, nil
}
