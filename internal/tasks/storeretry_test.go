package tasks

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/storage"
)

// flakyStore fails the AppendResults calls whose numbers (from 1) are in fail with the error
// given, and the first write of a terminal state with failFinish, without writing anything.
type flakyStore struct {
	Store
	mu         sync.Mutex // guards calls, failFinish
	calls      int
	fail       map[int]error
	failFinish error
}

func (s *flakyStore) AppendResults(ctx context.Context, id string, fromSeq int, results [][]byte, u storage.Update) error {
	s.mu.Lock()
	s.calls++
	err := s.fail[s.calls]
	if err == nil && u.State.Terminal() {
		err, s.failFinish = s.failFinish, nil
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.Store.AppendResults(ctx, id, fromSeq, results, u)
}

// TestPollerRetriesStoreErrors: a store that is busy or reports a concurrent append now and
// then, also on the write that finishes the task, delays the task but does not stop its
// poller: the task ends SUCCEEDED and a watcher gets every result once.
func TestPollerRetriesStoreErrors(t *testing.T) {
	busy := errors.New("database is locked (SQLITE_BUSY)")
	for _, mode := range []fiberfake.CursorMode{fiberfake.CursorNullWhenCaughtUp, fiberfake.CursorRepeatWhenCaughtUp} {
		t.Run(mode.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, fiberfake.Config{Seed: 14, PeoplePerSecond: 100, CursorMode: mode})
				flaky := &flakyStore{fail: map[int]error{
					2: busy, 3: busy, 4: errors.New("disk full"),
					6: storage.ErrConflict, 7: busy,
				}, failFinish: busy}
				e.stop()
				e.wrapStore = func(s Store) Store { flaky.Store = s; return flaky }
				e.startEngine(Policy{})
				id := e.start(350)

				var ups []Update
				done := make(chan error, 1)
				go func() {
					done <- e.engine.Watch(testContext(t), "alice", id, "", 0, false, func(u Update) error {
						ups = append(ups, u)
						return nil
					})
				}()
				e.waitFinished(id)
				if err := <-done; err != nil {
					t.Fatalf("watch: %v", err)
				}
				last := ups[len(ups)-1]
				if last.Task.State != storage.StateSucceeded || last.Task.NumResults != 350 {
					t.Fatalf("final update: %+v", last.Task)
				}
				distinct(t, urlsOf(t, 1, ups), 350)
				flaky.mu.Lock()
				defer flaky.mu.Unlock()
				if flaky.calls < 8 || flaky.failFinish != nil {
					t.Errorf("%d store writes, the finishing write failed: %v; the failures were not all reached", flaky.calls, flaky.failFinish == nil)
				}
				t.Logf("%d store writes, 6 of them failed", flaky.calls)
			})
		})
	}
}

// goneFiber answers every poll 404: the task ends FAILED.
type goneFiber struct{ Upstream }

func (goneFiber) Poll(context.Context, string, fiber.PollRequest) (*fiber.PollResponse, error) {
	return nil, &fiber.Error{Kind: fiber.KindNotFound, Endpoint: fiber.EndpointPoll, StatusCode: 404, Message: "task not found"}
}

// TestFailedEndSurvivesAStoreError: when Fiber refuses to report on a task, the write that
// ends it FAILED is retried after a store error too.
func TestFailedEndSurvivesAStoreError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{Seed: 18})
		flaky := &flakyStore{failFinish: errors.New("database is locked (SQLITE_BUSY)")}
		e.stop()
		e.client2 = goneFiber{}
		e.wrapStore = func(s Store) Store { flaky.Store = s; return flaky }
		e.startEngine(Policy{})
		out := &cdv1.StartBatchResponse{Output: &cdv1.StartBatchOutput{TaskId: "gone-task", NumPeopleEnqueued: 10}}
		if _, err := e.engine.Track(testContext(t), "alice", testKey, out, storage.Enrichment{WorkEmails: true}); err != nil {
			t.Fatal(err)
		}
		e.waitFinished("gone-task")
		task, err := e.store.GetTask(testContext(t), "gone-task")
		if err != nil {
			t.Fatal(err)
		}
		flaky.mu.Lock()
		defer flaky.mu.Unlock()
		if task.State != storage.StateFailed || flaky.failFinish != nil {
			t.Fatalf("task ended %v; the store error was returned: %v", task.State, flaky.failFinish == nil)
		}
	})
}
