package tasks

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/storage"
)

// TestRunPurgesFinishedTasksPastRetention runs the engine in a synctest bubble with a one-hour
// retention: Run's periodic purge removes a task finished more than an hour ago, with its
// results, and keeps a running task of the same age.
func TestRunPurgesFinishedTasksPastRetention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{Seed: 12})
		e.stop()
		e.retention = time.Hour
		e.startEngine(fastPolicy)
		ctx := t.Context() // hours pass in the bubble: testContext's deadline would
		t0 := time.Now()

		// Written to the store directly, so no poller follows them.
		newTask := func(id string) storage.Task {
			return storage.Task{ID: id, Owner: "alice", KeyID: fiber.KeyID("sk-nobody"), State: storage.StateRunning, CreateTime: t0, UpdateTime: t0}
		}
		for _, task := range []storage.Task{newTask("finished"), newTask("running")} {
			if err := e.store.CreateTask(ctx, task); err != nil {
				t.Fatal(err)
			}
		}
		err := e.store.AppendResults(ctx, "finished", 0, [][]byte{{}, {}, {}}, storage.Update{State: storage.StateSucceeded, UpdateTime: t0, FinishTime: t0})
		if err != nil {
			t.Fatal(err)
		}

		exists := func(id string) bool {
			t.Helper()
			_, err := e.store.GetTask(ctx, id)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				t.Fatal(err)
			}
			return err == nil
		}
		// Run purges every retention/10, from t0 on; once everything in the bubble is blocked
		// again (synctest.Wait), the purge due is done.
		const every = 6 * time.Minute
		synctest.Wait()
		for time.Since(t0) <= time.Hour {
			if !exists("finished") {
				t.Fatalf("the finished task was purged %v after it finished, before its retention", time.Since(t0))
			}
			time.Sleep(every)
			synctest.Wait()
		}
		for range 2 { // the purge after the retention has passed, whenever the period puts it
			time.Sleep(every)
			synctest.Wait()
		}
		if exists("finished") {
			t.Errorf("the finished task is still stored %v after it finished", time.Since(t0))
		}
		if rs, err := e.store.ReadResults(ctx, "finished", 0, 10); err != nil || len(rs) != 0 {
			t.Errorf("results of the purged task: %d, %v; want none", len(rs), err)
		}
		if !exists("running") {
			t.Errorf("the running task was purged")
		}
	})
}

// TestRunKeepsFinishedTasksWithZeroRetention: the zero Retention purges nothing, however long
// ago a task finished (here a year before Run's next purge).
func TestRunKeepsFinishedTasksWithZeroRetention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{Seed: 13})
		e.stop()
		e.retention = 0
		e.startEngine(fastPolicy)
		ctx := t.Context() // an hour passes in the bubble: testContext's deadline would
		t0 := time.Now().Add(-365 * 24 * time.Hour)
		task := storage.Task{ID: "finished", Owner: "alice", KeyID: fiber.KeyID("sk-nobody"), State: storage.StateRunning, CreateTime: t0, UpdateTime: t0}
		if err := e.store.CreateTask(ctx, task); err != nil {
			t.Fatal(err)
		}
		if err := e.store.AppendResults(ctx, "finished", 0, [][]byte{{}}, storage.Update{State: storage.StateSucceeded, UpdateTime: t0, FinishTime: t0}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour) // Run purges hourly
		synctest.Wait()       // and has purged since
		if _, err := e.store.GetTask(ctx, "finished"); err != nil {
			t.Errorf("the finished task a year later: %v, want it kept", err)
		}
	})
}
