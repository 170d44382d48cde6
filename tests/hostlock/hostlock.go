//go:build unix

// Package hostlock keeps the runs that create their own kind cluster one at
// a time on a host. `go test ./suites/...` starts every suite package at
// once (-p defaults to the number of CPUs), and each would create a kind
// cluster sized for the whole machine; two runs naming one cluster would
// also race on its creation and deletion. The runlock package keeps two
// runs off one cluster once it exists; this lock is taken before any
// cluster exists, so it lives on the host: an flock(2) on a file that the
// kernel releases when its holder exits, however it exits, so a killed run
// never leaves a stale lock behind.
package hostlock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DefaultPath is the lock file every run on this host uses: in the
// system's temporary directory, which every user of one Docker engine
// shares on a single machine.
func DefaultPath() string { return filepath.Join(os.TempDir(), "mesh-conformance-kind.lock") }

// Settings bound the wait. Holder describes this run to whoever waits for
// it (suite, cluster, process, start time); Wait bounds the wait (zero: try
// once); Poll is how often the lock is tried again.
type Settings struct {
	Path   string
	Holder string
	Wait   time.Duration
	Poll   time.Duration
	Logf   func(format string, args ...any)
	// Why is appended to the error when the wait runs out: what the
	// caller suggests (run the suites one at a time, a longer -timeout).
	Why string
}

// Lock is a held host lock.
type Lock struct {
	f *os.File
}

// ErrBusy is wrapped by Acquire's error when another run held the lock for
// the whole wait.
var ErrBusy = errors.New("another run holds the host lock")

// Acquire takes the host lock, waiting at most s.Wait for its holder, and
// writes s.Holder into the lock file for the next one to read.
func Acquire(ctx context.Context, s Settings) (*Lock, error) {
	if s.Path == "" {
		s.Path = DefaultPath()
	}
	if s.Poll <= 0 {
		s.Poll = 2 * time.Second
	}
	if s.Logf == nil {
		s.Logf = func(string, ...any) {}
	}
	f, err := os.OpenFile(s.Path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("host lock %s: %w (set TMPDIR to a writable directory)", s.Path, err)
	}
	start := time.Now()
	deadline := start.Add(s.Wait)
	lastLog := time.Time{}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("host lock %s: %w", s.Path, err)
		}
		holder := readHolder(f)
		if !time.Now().Before(deadline) {
			f.Close()
			return nil, fmt.Errorf("%w: %s (waited %s; lock file %s)%s", ErrBusy, holder, time.Since(start).Round(time.Second), s.Path, s.Why)
		}
		if time.Since(lastLog) >= time.Minute {
			s.Logf("waiting for another run on this host to finish (up to %s more): %s", time.Until(deadline).Round(time.Second), holder)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the host lock held by %s: %w", holder, ctx.Err())
		case <-time.After(min(s.Poll, time.Until(deadline)+time.Millisecond)):
		}
	}
	if waited := time.Since(start); waited > s.Poll {
		s.Logf("host lock taken after waiting %s", waited.Round(time.Second))
	}
	// The holder's description, for whoever waits next.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(s.Holder+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// readHolder reads what the holder wrote; it may not have written yet.
func readHolder(f *os.File) string {
	buf := make([]byte, 512)
	n, _ := f.ReadAt(buf, 0)
	if h := strings.TrimSpace(string(buf[:n])); h != "" {
		return h
	}
	return "a run that has not described itself yet"
}

// Release lets the next run go. Safe to call on nil and more than once.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Truncate(0)
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}

// Describe names a run for the lock file: what it is, where it runs, since
// when.
func Describe(suite, cluster string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("suite %s, kind cluster %s, pid %d on %s, since %s", suite, cluster, os.Getpid(), host, time.Now().Format(time.RFC3339))
}
