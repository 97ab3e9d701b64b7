package tasks

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/storage"
)

// TestTrackRetriesABusyStore: a store that refuses a new task twice, then takes it, costs the
// caller two short waits: Track succeeds, and the task is followed to SUCCEEDED with every
// result once.
func TestTrackRetriesABusyStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, rs, logs := refusingEnv(t, fiberfake.Config{Seed: 31, PeoplePerSecond: 100}, fastPolicy)
		rs.failNextCalls(2)
		start := e.startUpstream(150)
		id := start.GetOutput().GetTaskId()
		began := time.Now()
		task, err := e.engine.Track(testContext(t), "alice", testKey, start, allEnrichment)
		if err != nil {
			t.Fatalf("Track: %v", err)
		}
		if task.ID != id || rs.createCalls() != 3 || time.Since(began) != 2*trackRetryWait {
			t.Errorf("Track stored %q after %d writes and %v; want %s after 3 writes and %v", task.ID, rs.createCalls(), time.Since(began), id, 2*trackRetryWait)
		}
		checkFollowedToTheEnd(t, e.engine, id, 150)
		if strings.Contains(logs.String(), "RECONCILE") {
			t.Errorf("an operator was called for a task that was stored:\n%s", logs)
		}
	})
}

// TestTrackRecordsLateWhenTheStoreComesBack: while the store refuses a started task, Track
// answers ErrNotRecorded (with the store's error) after its quick retries, the task is not to
// be found and nobody polls it; the engine keeps trying, and once the store takes tasks again
// it stores the task as Track was given it (owner, key id, start answer) and follows it to
// SUCCEEDED, with every result once.
func TestTrackRecordsLateWhenTheStoreComesBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		e, rs, logs := refusingEnv(t, fiberfake.Config{Seed: 32, PeoplePerSecond: 100}, fastPolicy)
		rs.setDown(true)
		start := e.startUpstream(150)
		id := start.GetOutput().GetTaskId()
		_, err := e.engine.Track(ctx, "alice", testKey, start, allEnrichment)
		if !errors.Is(err, ErrNotRecorded) || !errors.Is(err, errStoreBusy) || !strings.Contains(err.Error(), id) {
			t.Fatalf("Track on a store that refuses the task: %v; want ErrNotRecorded with the store's error and the task id", err)
		}

		time.Sleep(time.Second) // of the bubble's clock: the engine retries meanwhile
		if n := rs.createCalls(); n <= trackAttempts {
			t.Errorf("%d writes after a second, want the engine's retries after Track's %d", n, trackAttempts)
		}
		if _, err := e.store.GetTask(ctx, id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("store GetTask while the store refuses the task: %v, want ErrNotFound", err)
		}
		if _, err := e.engine.Get(ctx, "alice", id, ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("engine Get while the store refuses the task: %v, want ErrNotFound", err)
		}
		if n := len(e.sim.Polls(id)); n != 0 {
			t.Errorf("the task was polled %d times before it was stored", n)
		}

		rs.setDown(false)
		select {
		case got := <-rs.created:
			if got != id {
				t.Fatalf("stored task %s, want %s", got, id)
			}
		case <-ctx.Done():
			t.Fatal("the task was not stored once the store came back")
		}
		stored, err := e.store.GetTask(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		answer := &cdv1.StartBatchResponse{}
		if err := proto.Unmarshal(stored.StartResponse, answer); err != nil {
			t.Fatal(err)
		}
		if stored.Owner != "alice" || stored.KeyID != fiber.KeyID(testKey) || stored.Enrichment != allEnrichment || !proto.Equal(answer, start) {
			t.Errorf("stored %+v with start answer %v; want alice's, key id %s, answer %v", stored, answer, fiber.KeyID(testKey), start)
		}
		checkFollowedToTheEnd(t, e.engine, id, 150)
		if !logs.logged("a started task was recorded late", id) || logs.logged("RECONCILE", id) {
			t.Errorf("log, want the late record and no RECONCILE line:\n%s", logs)
		}
		e.stop()
		checkNothingPending(t, e.engine)
	})
}

// TestEngineStopsBeforeTheStoreComesBack: a started task the store never took is lost when
// the engine stops, and says so: Run returns, nothing is left running, and an error line
// starting "RECONCILE" names the task, whether its poller was retrying the write, the task
// was tracked after Run had returned, or Run stopped before it started the task's poller.
func TestEngineStopsBeforeTheStoreComesBack(t *testing.T) {
	t.Run("while retrying", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e, rs, logs := refusingEnv(t, fiberfake.Config{Seed: 33}, fastPolicy)
			rs.setDown(true)
			start := e.startUpstream(20)
			id := start.GetOutput().GetTaskId()
			if _, err := e.engine.Track(testContext(t), "alice", testKey, start, allEnrichment); !errors.Is(err, ErrNotRecorded) {
				t.Fatalf("Track: %v, want ErrNotRecorded", err)
			}
			time.Sleep(time.Second)
			if !logs.logged("recording a started task failed; retrying", id) {
				t.Fatalf("the engine did not retry:\n%s", logs)
			}
			e.stop() // returns once Run has
			if !logs.logged("RECONCILE", id) {
				t.Errorf("no RECONCILE line names task %s:\n%s", id, logs)
			}
			if len(rs.created) != 0 {
				t.Error("the task was stored")
			}
			checkNothingPending(t, e.engine)
		})
	})
	t.Run("tracked after Run returned", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e, rs, logs := refusingEnv(t, fiberfake.Config{Seed: 33}, fastPolicy)
			rs.setDown(true)
			start := e.startUpstream(20)
			id := start.GetOutput().GetTaskId()
			e.stop()
			if _, err := e.engine.Track(testContext(t), "alice", testKey, start, allEnrichment); !errors.Is(err, ErrNotRecorded) {
				t.Fatalf("Track: %v, want ErrNotRecorded", err)
			}
			if !logs.logged("RECONCILE", id) {
				t.Errorf("no RECONCILE line names task %s:\n%s", id, logs)
			}
			checkNothingPending(t, e.engine)
		})
	})
	t.Run("Run stopped before the poller started", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEnv(t, fiberfake.Config{Seed: 33})
			rs, logs := newRefusingStore(), &logBuffer{}
			rs.Store = e.store
			rs.setDown(true)
			eng := New(Config{Store: rs, Fiber: e.client, DefaultAPIKey: testKey, Policy: fastPolicy, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
			start := e.startUpstream(20)
			id := start.GetOutput().GetTaskId()
			if _, err := eng.Track(testContext(t), "alice", testKey, start, allEnrichment); !errors.Is(err, ErrNotRecorded) {
				t.Fatalf("Track: %v, want ErrNotRecorded", err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := eng.Run(ctx); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !logs.logged("RECONCILE", id) {
				t.Errorf("no RECONCILE line names task %s:\n%s", id, logs)
			}
			eng.mu.Lock()
			defer eng.mu.Unlock()
			if len(eng.unrecorded) != 0 {
				t.Errorf("the engine still holds %d unrecorded tasks", len(eng.unrecorded))
			}
		})
	})
}

// TestTrackRefusesAnIDHeldByAnotherTask: a start whose task id the store already holds for a
// task of another owner, another Fiber key or another start answer is ErrIDConflict at once:
// the held task is left exactly as it was, the new owner cannot read it, and nothing is
// followed for the new start.
func TestTrackRefusesAnIDHeldByAnotherTask(t *testing.T) {
	for _, c := range []struct {
		name, owner, key string
		change           func(*cdv1.StartBatchResponse)
	}{
		{name: "another owner", owner: "mallory", key: testKey},
		{name: "another key", owner: "alice", key: "sk-another-tasks-test-key"},
		{name: "another start answer", owner: "alice", key: testKey, change: func(r *cdv1.StartBatchResponse) { r.Output.NumPeopleEnqueued++ }},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := testContext(t)
				e, rs, logs := refusingEnv(t, fiberfake.Config{Seed: 34, PeoplePerSecond: 100}, fastPolicy)
				start := e.startUpstream(50)
				id := start.GetOutput().GetTaskId()
				if _, err := e.engine.Track(ctx, "alice", testKey, start, allEnrichment); err != nil {
					t.Fatal(err)
				}
				before := e.waitFinished(id)
				beforeResults, err := e.store.ReadResults(ctx, id, 0, 1000)
				if err != nil {
					t.Fatal(err)
				}
				polls := len(e.sim.Polls(id))

				again := proto.CloneOf(start)
				if c.change != nil {
					c.change(again)
				}
				task, err := e.engine.Track(ctx, c.owner, c.key, again, allEnrichment)
				if !errors.Is(err, ErrIDConflict) || task.ID != "" {
					t.Fatalf("Track of an id another task holds: %+v, %v; want ErrIDConflict", task, err)
				}
				if n := rs.createCalls(); n != 2 {
					t.Errorf("%d writes, want 2: a conflict is not retried", n)
				}

				time.Sleep(10 * time.Second) // of the bubble's clock: whatever would follow it had time to
				after, err := e.store.GetTask(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				afterResults, err := e.store.ReadResults(ctx, id, 0, 1000)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(before, after); diff != "" {
					t.Errorf("the held task changed (-before +after):\n%s", diff)
				}
				if diff := cmp.Diff(beforeResults, afterResults); diff != "" {
					t.Errorf("the held task's results changed (-before +after):\n%s", diff)
				}
				if n := len(e.sim.Polls(id)); n != polls {
					t.Errorf("%d more polls of task %s after the conflict", n-polls, id)
				}
				if c.owner != "alice" {
					if _, err := e.engine.Get(ctx, c.owner, id, ""); !errors.Is(err, ErrNotFound) {
						t.Errorf("Get by %s: %v, want ErrNotFound", c.owner, err)
					}
				}
				checkNothingPending(t, e.engine)
				if logs.logged("RECONCILE", id) {
					t.Errorf("the engine logged RECONCILE: the caller's handler does, once:\n%s", logs)
				}
			})
		})
	}
}

// TestRecordLateRefusesAnIDTakenMeanwhile: a started task the store refused, whose id another
// owner's task takes before the store comes back, is never stored or followed: the engine
// says so in a RECONCILE line, and the other task is left as it was.
func TestRecordLateRefusesAnIDTakenMeanwhile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		e, rs, logs := refusingEnv(t, fiberfake.Config{Seed: 35}, fastPolicy)
		rs.setDown(true)
		start := e.startUpstream(20)
		id := start.GetOutput().GetTaskId()
		if _, err := e.engine.Track(ctx, "alice", testKey, start, allEnrichment); !errors.Is(err, ErrNotRecorded) {
			t.Fatalf("Track: %v, want ErrNotRecorded", err)
		}
		now := time.Now()
		if err := e.store.CreateTask(ctx, storage.Task{ID: id, Owner: "mallory", KeyID: fiber.KeyID(testKey), State: storage.StateRunning, CreateTime: now, UpdateTime: now}); err != nil {
			t.Fatal(err)
		}
		held, err := e.store.GetTask(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		rs.setDown(false)
		time.Sleep(time.Second)
		if !logs.logged("RECONCILE: a started task's id is taken", id) {
			t.Errorf("no RECONCILE line says task %s's id is taken:\n%s", id, logs)
		}
		after, err := e.store.GetTask(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(held, after); diff != "" {
			t.Errorf("the held task changed (-before +after):\n%s", diff)
		}
		if _, err := e.engine.Get(ctx, "alice", id, ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get by alice: %v, want ErrNotFound", err)
		}
		if n := len(e.sim.Polls(id)); n != 0 {
			t.Errorf("task %s was polled %d times", id, n)
		}
		checkNothingPending(t, e.engine)
	})
}

// TestTrackTakesAWriteThatLanded: a write that stored the task but failed is found by the
// retry (ErrExists with the same owner, key and start answer): Track succeeds, the store
// holds the one task, and it is followed once, with every result once.
func TestTrackTakesAWriteThatLanded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		e, rs, logs := refusingEnv(t, fiberfake.Config{Seed: 36, PeoplePerSecond: 100}, fastPolicy)
		rs.lieOnce()
		start := e.startUpstream(150)
		id := start.GetOutput().GetTaskId()
		if _, err := e.engine.Track(ctx, "alice", testKey, start, allEnrichment); err != nil {
			t.Fatalf("Track: %v", err)
		}
		if n := rs.createCalls(); n != 2 {
			t.Errorf("%d writes, want 2", n)
		}
		list, _, err := e.store.ListTasks(ctx, storage.ListFilter{Owner: "alice", PageSize: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != id {
			t.Fatalf("alice's tasks: %+v, want the one task %s", list, id)
		}
		checkFollowedToTheEnd(t, e.engine, id, 150)
		if strings.Contains(logs.String(), "RECONCILE") {
			t.Errorf("an operator was called for a task that was stored:\n%s", logs)
		}
		e.stop()
		checkNothingPending(t, e.engine)
	})
}

// TestAdoptedUnrecordedTaskIsFollowed: the owner may adopt a started task the store refused
// (Get with its Fiber key) once the store is back, before the engine stores it: the engine
// takes the adopted task for the one it was to store, and follows it to the end. A task of
// the same owner, key and id adopted before the start is another task: ErrIDConflict.
func TestAdoptedUnrecordedTaskIsFollowed(t *testing.T) {
	t.Run("adopted after the start", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := testContext(t)
			p := fastPolicy
			p.RetryMin, p.RetryMax = 20*time.Second, 20*time.Second // the owner adopts first
			e, rs, logs := refusingEnv(t, fiberfake.Config{Seed: 37, PeoplePerSecond: 100}, p)
			rs.setDown(true)
			start := e.startUpstream(150)
			id := start.GetOutput().GetTaskId()
			if _, err := e.engine.Track(ctx, "alice", testKey, start, allEnrichment); !errors.Is(err, ErrNotRecorded) {
				t.Fatalf("Track: %v, want ErrNotRecorded", err)
			}
			rs.setDown(false)
			if _, err := e.engine.Get(ctx, "alice", id, testKey); err != nil {
				t.Fatalf("adopt: %v", err)
			}
			checkFollowedToTheEnd(t, e.engine, id, 150)
			if logs.logged("RECONCILE", id) {
				t.Errorf("the adopted task was taken for another:\n%s", logs)
			}
			e.stop()
			checkNothingPending(t, e.engine)
		})
	})
	t.Run("adopted before the start", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := testContext(t)
			e, _, _ := refusingEnv(t, fiberfake.Config{Seed: 37}, fastPolicy)
			start := e.startUpstream(20)
			id := start.GetOutput().GetTaskId()
			then := time.Now().Add(-time.Hour)
			old := storage.Task{ID: id, Owner: "alice", KeyID: fiber.KeyID(testKey), State: storage.StateSucceeded, CreateTime: then, UpdateTime: then, FinishTime: then}
			if err := e.store.CreateTask(ctx, old); err != nil {
				t.Fatal(err)
			}
			if _, err := e.engine.Track(ctx, "alice", testKey, start, allEnrichment); !errors.Is(err, ErrIDConflict) {
				t.Fatalf("Track: %v, want ErrIDConflict", err)
			}
		})
	})
}

// TestUnrecordedTaskWaitsForItsIDsPoller: a started task the store refused while a task of
// the same id is followed gets its turn when that task's poller ends: the engine then finds
// the id taken and says so in a RECONCILE line, instead of forgetting it.
func TestUnrecordedTaskWaitsForItsIDsPoller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		e, rs, logs := refusingEnv(t, fiberfake.Config{Seed: 38, PeoplePerSecond: 100}, fastPolicy)
		start := e.startUpstream(500) // five seconds of the bubble's clock
		id := start.GetOutput().GetTaskId()
		if _, err := e.engine.Track(ctx, "mallory", testKey, start, allEnrichment); err != nil {
			t.Fatal(err)
		}
		rs.setDown(true)
		if _, err := e.engine.Track(ctx, "alice", testKey, start, allEnrichment); !errors.Is(err, ErrNotRecorded) {
			t.Fatalf("Track: %v, want ErrNotRecorded", err)
		}
		rs.setDown(false)
		if got := e.waitFinished(id); got.Owner != "mallory" || got.NumResults != 500 {
			t.Fatalf("held task: %+v, want mallory's with 500 results", got)
		}
		time.Sleep(time.Second)
		if !logs.logged("RECONCILE: a started task's id is taken", id) {
			t.Errorf("no RECONCILE line says task %s's id is taken:\n%s", id, logs)
		}
		checkNothingPending(t, e.engine)
	})
}
