// Package runlock keeps two runs off one cluster. Suites use fixed
// namespaces and release names, so a second run on the same cluster would
// silently rewrite the first one's setup under its probes. A run holds a
// coordination.k8s.io Lease naming it (host, process, suite, start time)
// and renews it; another run waits, bounded, then stops and names the
// holder; a lease whose holder stopped renewing is taken over, and said so.
package runlock

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Where the lease lives: every cluster has the default namespace.
const (
	Namespace = "default"
	Name      = "mesh-conformance-run"
)

// Settings bound the lock. Duration is how long a lease stays valid
// without renewal (it is renewed every third of it); Wait is how long a
// second run waits for the holder.
type Settings struct {
	Duration, Wait, Poll time.Duration
	Logf                 func(format string, args ...any)
	Now                  func() time.Time
}

// DefaultDuration is a lease's lifetime without renewal: long enough for
// an API server hiccup, short enough that a killed run's lease goes stale
// within a minute.
const DefaultDuration = 60 * time.Second

// Lock is a held lease.
type Lock struct {
	kube     kubernetes.Interface
	identity string
	stop     chan struct{}
	done     sync.WaitGroup
	once     sync.Once
}

// Identity names this run: host, process and suite.
func Identity(suite string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/pid-%d/%s", host, os.Getpid(), suite)
}

// Acquire takes the lease for identity, waiting at most s.Wait for another
// holder, and keeps renewing it until Release.
func Acquire(ctx context.Context, kube kubernetes.Interface, identity string, s Settings) (*Lock, error) {
	s = s.withDefaults()
	leases := kube.CoordinationV1().Leases(Namespace)
	deadline := s.Now().Add(s.Wait)
	for {
		now := metav1.NewMicroTime(s.Now())
		cur, err := leases.Get(ctx, Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			_, err = leases.Create(ctx, lease(identity, now, s.Duration), metav1.CreateOptions{})
			if err == nil {
				return start(kube, identity, s), nil
			}
			if !apierrors.IsAlreadyExists(err) {
				return nil, fmt.Errorf("taking the run lease %s/%s: %w", Namespace, Name, err)
			}
		case err != nil:
			return nil, fmt.Errorf("reading the run lease %s/%s: %w", Namespace, Name, err)
		case holder(cur) == identity || holder(cur) == "" || stale(cur, s.Now()):
			err := takeOver(ctx, kube, cur, identity, now, s.Duration)
			if err == nil {
				if h := holder(cur); h != "" && h != identity {
					s.Logf("run lease: took over from %s, which stopped renewing it at %s (its run is gone)", h, renewed(cur))
				}
				return start(kube, identity, s), nil
			}
			if !apierrors.IsConflict(err) {
				return nil, fmt.Errorf("taking over the run lease %s/%s: %w", Namespace, Name, err)
			}
		default:
			s.Logf("run lease: held by %s (started %s); waiting up to %s", holder(cur), acquired(cur), deadline.Sub(s.Now()).Round(time.Second))
		}
		if !s.Now().Before(deadline) {
			if cur != nil && holder(cur) != "" && holder(cur) != identity {
				return nil, fmt.Errorf("another run holds this cluster: %s, started %s, last renewed %s; "+
					"two runs on one cluster rewrite each other's setup: wait for it to finish, stop it, or use another cluster "+
					"(a lease left by a killed run expires %s after its last renewal)", holder(cur), acquired(cur), renewed(cur), s.Duration)
			}
			return nil, fmt.Errorf("could not take the run lease %s/%s within %s", Namespace, Name, s.Wait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(s.Poll):
		}
	}
}

func (s Settings) withDefaults() Settings {
	if s.Duration <= 0 {
		s.Duration = DefaultDuration
	}
	if s.Poll <= 0 {
		s.Poll = 2 * time.Second
	}
	if s.Logf == nil {
		s.Logf = func(string, ...any) {}
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	return s
}

func lease(identity string, now metav1.MicroTime, d time.Duration) *coordinationv1.Lease {
	secs := int32(d / time.Second)
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: Namespace},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &identity, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now}}
}

// takeOver writes this run into an existing lease; the update fails (and
// the caller looks again) if another run changed it meanwhile.
func takeOver(ctx context.Context, kube kubernetes.Interface, cur *coordinationv1.Lease, identity string, now metav1.MicroTime, d time.Duration) error {
	next := cur.DeepCopy()
	next.Spec = lease(identity, now, d).Spec
	_, err := kube.CoordinationV1().Leases(Namespace).Update(ctx, next, metav1.UpdateOptions{})
	return err
}

func holder(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func stale(l *coordinationv1.Lease, now time.Time) bool {
	if l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return true
	}
	return now.After(l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second))
}

func acquired(l *coordinationv1.Lease) string {
	if l.Spec.AcquireTime == nil {
		return "at an unknown time"
	}
	return l.Spec.AcquireTime.UTC().Format(time.RFC3339)
}

func renewed(l *coordinationv1.Lease) string {
	if l.Spec.RenewTime == nil {
		return "never"
	}
	return l.Spec.RenewTime.UTC().Format(time.RFC3339)
}

// start renews the lease every third of its duration until Release.
func start(kube kubernetes.Interface, identity string, s Settings) *Lock {
	l := &Lock{kube: kube, identity: identity, stop: make(chan struct{})}
	l.done.Add(1)
	go func() {
		defer l.done.Done()
		t := time.NewTicker(s.Duration / 3)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), s.Duration/3)
				if cur, err := kube.CoordinationV1().Leases(Namespace).Get(ctx, Name, metav1.GetOptions{}); err == nil && holder(cur) == identity {
					now := metav1.NewMicroTime(s.Now())
					cur.Spec.RenewTime = &now
					if _, err := kube.CoordinationV1().Leases(Namespace).Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
						s.Logf("run lease: renewing: %v", err)
					}
				}
				cancel()
			}
		}
	}()
	return l
}

// Release stops renewing and deletes the lease if this run still holds it.
func (l *Lock) Release(ctx context.Context) error {
	var err error
	l.once.Do(func() {
		close(l.stop)
		l.done.Wait()
		cur, gerr := l.kube.CoordinationV1().Leases(Namespace).Get(ctx, Name, metav1.GetOptions{})
		if gerr != nil || holder(cur) != l.identity {
			return // gone, or taken over: not ours to delete
		}
		err = l.kube.CoordinationV1().Leases(Namespace).Delete(ctx, Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &cur.ResourceVersion}})
		if apierrors.IsNotFound(err) {
			err = nil
		}
	})
	return err
}
