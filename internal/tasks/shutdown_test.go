package tasks

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"go.uber.org/goleak"

	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/storage/sqlite"
)

// TestStoppingRunEndsWatchesWithErrShuttingDown: a watch in progress when the engine's Run
// is stopped ends with ErrShuttingDown (clients resume elsewhere with their token), and
// nothing the engine started is left running.
func TestStoppingRunEndsWatchesWithErrShuttingDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ignore := goleak.IgnoreCurrent()
		t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // runs last, after the env's cleanups
		e := newEnv(t, fiberfake.Config{Seed: 17})
		e.stop()
		e.startEngine(Policy{})
		id := e.start(100)

		first := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			sent := false
			done <- e.engine.Watch(testContext(t), "alice", id, "", 0, false, func(Update) error {
				if !sent {
					sent = true
					close(first)
				}
				return nil
			})
		}()
		ctx := testContext(t)
		select {
		case <-first:
		case <-ctx.Done():
			t.Fatal("no first update")
		}
		e.stop() // before the bubble's clock moves: the task is still running
		select {
		case err := <-done:
			if !errors.Is(err, ErrShuttingDown) {
				t.Fatalf("watch ended with %v, want ErrShuttingDown", err)
			}
		case <-ctx.Done():
			t.Fatal("the watch did not end when the engine stopped")
		}
	})
}

// TestTaskTrackedBeforeRunIsFollowedOnceRunRuns: New starts nothing; a task tracked before Run
// is followed to the end once Run runs, and Run returns only after its pollers have.
func TestTaskTrackedBeforeRunIsFollowedOnceRunRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ignore := goleak.IgnoreCurrent()
		t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
		e := newEnv(t, fiberfake.Config{Seed: 18, PeoplePerSecond: 3000})
		e.stop()
		store, err := sqlite.Open(testContext(t), e.path)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		e.store = store
		e.engine = New(Config{Store: store, Fiber: e.client, DefaultAPIKey: testKey, Policy: fastPolicy})
		id := e.start(250)

		ctx, cancel := context.WithCancel(testContext(t))
		done := make(chan error, 1)
		go func() { done <- e.engine.Run(ctx) }()
		if task := e.waitFinished(id); task.State != storage.StateSucceeded || task.NumResults != 250 {
			t.Errorf("task = %+v", task)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}
