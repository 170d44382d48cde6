//go:build unix

package hostlock

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestASecondRunWaitsThenNamesTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kind.lock")
	first, err := Acquire(context.Background(), Settings{Path: path, Holder: "suite kservemesh, kind cluster a"})
	require.NoError(t, err)

	start := time.Now()
	_, err = Acquire(context.Background(), Settings{Path: path, Holder: "suite opeaistio", Wait: 300 * time.Millisecond, Poll: 50 * time.Millisecond,
		Why: "; run the suites one at a time: go test -p 1"})
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrBusy))
	assert.Contains(t, err.Error(), "suite kservemesh, kind cluster a", "the error names the holder")
	assert.Contains(t, err.Error(), "go test -p 1", "and the fix")
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "it waited its bound")
	assert.Less(t, time.Since(start), 5*time.Second)

	first.Release()
	first.Release() // twice is harmless
	second, err := Acquire(context.Background(), Settings{Path: path, Holder: "suite opeaistio"})
	require.NoError(t, err, "free once released")
	second.Release()
}

func TestAWaitingRunGoesOnWhenTheHolderReleases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kind.lock")
	first, err := Acquire(context.Background(), Settings{Path: path, Holder: "first"})
	require.NoError(t, err)
	time.AfterFunc(200*time.Millisecond, first.Release)
	second, err := Acquire(context.Background(), Settings{Path: path, Holder: "second", Wait: 10 * time.Second, Poll: 20 * time.Millisecond})
	require.NoError(t, err)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "second\n", string(data), "the new holder describes itself")
	second.Release()
}

func TestAWaitEndsWithItsContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kind.lock")
	first, err := Acquire(context.Background(), Settings{Path: path, Holder: "first"})
	require.NoError(t, err)
	defer first.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = Acquire(ctx, Settings{Path: path, Wait: time.Hour, Poll: 20 * time.Millisecond})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// A run killed with SIGKILL (no teardown at all) leaves no stale lock: the
// kernel drops an flock with its holder's last descriptor.
func TestAKilledHolderLeavesNoStaleLock(t *testing.T) {
	if os.Getenv("HOSTLOCK_HOLD") != "" {
		l, err := Acquire(context.Background(), Settings{Path: os.Getenv("HOSTLOCK_HOLD"), Holder: "child"})
		if err != nil {
			os.Exit(3)
		}
		_ = l
		os.Stdout.WriteString("held\n")
		time.Sleep(time.Minute) // killed long before
		os.Exit(0)
	}
	path := filepath.Join(t.TempDir(), "kind.lock")
	cmd := exec.Command(os.Args[0], "-test.run=^TestAKilledHolderLeavesNoStaleLock$")
	cmd.Env = append(os.Environ(), "HOSTLOCK_HOLD="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "held\n", line)

	_, err = Acquire(context.Background(), Settings{Path: path, Poll: 10 * time.Millisecond})
	require.ErrorIs(t, err, ErrBusy, "held by the child")
	assert.Contains(t, err.Error(), "child")

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	l, err := Acquire(context.Background(), Settings{Path: path, Wait: 5 * time.Second, Poll: 10 * time.Millisecond})
	require.NoError(t, err, "the killed holder's lock is gone")
	l.Release()
}
