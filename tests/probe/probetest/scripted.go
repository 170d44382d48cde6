// Package probetest holds a scripted probe.Executor for the tests of what
// runs probes (the matrix engine, the disruption loop), as net/http/httptest
// does for HTTP: it answers the probe script's transfers from a table and
// prints their results through probe.Transcript, the byte stream the real
// script prints, so probe.Parse reads what it reads from a pod.
package probetest

import (
	"context"
	"fmt"
	"sync"

	"github.com/secure-inference/mesh-conformance/tests/probe"
)

// Answer is one scripted curl result: exit code, HTTP status, body, and
// what else curl reports when a test needs it.
type Answer struct {
	Exit int
	Code int
	// Body is the whole response body: the transcript keeps its head as
	// the script does (the request's excerpt) and searches all of it for
	// the request's Find strings.
	Body string
	// RedirectURL is curl's redirect_url (a 3xx's Location).
	RedirectURL string
	// ErrorMessage is curl's errormsg; a failed transfer (Exit not 0)
	// without one gets a message naming it as scripted, since curl never
	// leaves a failure unexplained.
	ErrorMessage string
}

// reply is the answer in the terms of the probe script's transcript.
func (a Answer) reply() probe.Reply {
	msg := a.ErrorMessage
	if a.Exit != 0 && msg == "" {
		msg = fmt.Sprintf("scripted failure (curl exit %d)", a.Exit)
	}
	return probe.Reply{Exit: a.Exit, HTTPCode: a.Code, Body: a.Body, RedirectURL: a.RedirectURL, ErrorMessage: msg}
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

// Exec implements probe.Executor: cmd is probe.Run's sh -c of the script.
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
	if len(cmd) != 3 {
		return nil, nil, fmt.Errorf("not a probe script's command: %q", cmd)
	}
	out, err := probe.Transcript(cmd[2], func(url string) (probe.Reply, error) {
		key := pod.Name + " " + url
		seq := s.seq[key]
		if len(seq) == 0 {
			return probe.Reply{}, fmt.Errorf("no script for %q", key)
		}
		a := seq[min(s.calls[key], len(seq)-1)]
		s.calls[key]++
		return a.reply(), nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, nil, nil
}
