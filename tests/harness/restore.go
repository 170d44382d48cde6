package harness

import (
	"context"
	"fmt"
	"time"
)

// whileRemoved registers how to put back what a feature took away, so that
// an interrupted run restores it (a user's cluster must not keep a removed
// policy); the returned func unregisters it once restored.
func (r *Run) whileRemoved(name string, restore func(context.Context) error) (done func()) {
	r.restoreMu.Lock()
	defer r.restoreMu.Unlock()
	if r.restorers == nil {
		r.restorers = map[string]func(context.Context) error{}
	}
	r.restorers[name] = restore
	return func() {
		r.restoreMu.Lock()
		defer r.restoreMu.Unlock()
		delete(r.restorers, name)
	}
}

// removing runs a removal unless the run is stopping, never at the same
// time as the restorers: a removal after Ctrl-C would outlive the run.
func (r *Run) removing(remove func() error) error {
	r.restoreMu.Lock()
	defer r.restoreMu.Unlock()
	if r.stopping.Load() {
		return fmt.Errorf("the run is stopping: nothing more is removed")
	}
	return remove()
}

// runRestorers puts back everything still taken away, each bounded.
func (r *Run) runRestorers() {
	r.restoreMu.Lock()
	defer r.restoreMu.Unlock()
	for name, restore := range r.restorers {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := restore(ctx); err != nil {
			r.Logf("restoring what %s removed: %v; put it back by hand", name, err)
		} else {
			r.Logf("restored what %s had removed", name)
		}
		cancel()
	}
	r.restorers = nil
}
