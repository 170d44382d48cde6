package runlock

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logs) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

func TestOneRunAtATime(t *testing.T) {
	ctx := context.Background()
	kube := fake.NewSimpleClientset()
	s := Settings{Duration: time.Minute, Wait: 300 * time.Millisecond, Poll: 50 * time.Millisecond}

	first, err := Acquire(ctx, kube, "host-a/pid-1/kservemesh", s)
	require.NoError(t, err)
	got, err := kube.CoordinationV1().Leases(Namespace).Get(ctx, Name, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "host-a/pid-1/kservemesh", *got.Spec.HolderIdentity)
	assert.NotNil(t, got.Spec.AcquireTime)

	// A second run waits its bounded time, then names the holder.
	start := time.Now()
	_, err = Acquire(ctx, kube, "host-b/pid-2/opeaistio", s)
	require.Error(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	assert.Contains(t, err.Error(), "another run holds this cluster: host-a/pid-1/kservemesh, started ")

	// Once the first releases, the second gets it.
	require.NoError(t, first.Release(ctx))
	second, err := Acquire(ctx, kube, "host-b/pid-2/opeaistio", s)
	require.NoError(t, err)
	require.NoError(t, second.Release(ctx))
	_, err = kube.CoordinationV1().Leases(Namespace).Get(ctx, Name, metav1.GetOptions{})
	assert.True(t, err != nil, "released leases are deleted")
}

func TestAStaleLeaseIsTakenOverAndSaidSo(t *testing.T) {
	ctx := context.Background()
	kube := fake.NewSimpleClientset()
	long := time.Now().Add(-10 * time.Minute)
	old := lease("host-a/pid-1/kservemesh", metav1.NewMicroTime(long), time.Minute)
	_, err := kube.CoordinationV1().Leases(Namespace).Create(ctx, old, metav1.CreateOptions{})
	require.NoError(t, err)
	var l logs
	lock, err := Acquire(ctx, kube, "host-b/pid-2/opeaistio", Settings{Duration: time.Minute, Wait: time.Second, Logf: l.logf})
	require.NoError(t, err, "a holder gone past its renew time does not block")
	defer func() { _ = lock.Release(ctx) }()
	require.Len(t, l.all(), 1)
	assert.Contains(t, l.all()[0], "took over from host-a/pid-1/kservemesh, which stopped renewing it at ")
}

func TestTheHolderRenewsAndATakenLeaseIsNotDeleted(t *testing.T) {
	ctx := context.Background()
	kube := fake.NewSimpleClientset()
	lock, err := Acquire(ctx, kube, "me", Settings{Duration: 300 * time.Millisecond})
	require.NoError(t, err)
	first, _ := kube.CoordinationV1().Leases(Namespace).Get(ctx, Name, metav1.GetOptions{})
	assert.Eventually(t, func() bool {
		now, err := kube.CoordinationV1().Leases(Namespace).Get(ctx, Name, metav1.GetOptions{})
		return err == nil && now.Spec.RenewTime.After(first.Spec.RenewTime.Time)
	}, 2*time.Second, 20*time.Millisecond, "renewed")

	// Someone took it over (this run looked dead to them): not ours to delete.
	cur, _ := kube.CoordinationV1().Leases(Namespace).Get(ctx, Name, metav1.GetOptions{})
	other := "them"
	cur.Spec.HolderIdentity = &other
	_, err = kube.CoordinationV1().Leases(Namespace).Update(ctx, cur, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.NoError(t, lock.Release(ctx))
	after, err := kube.CoordinationV1().Leases(Namespace).Get(ctx, Name, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "them", *after.Spec.HolderIdentity)
}
