package tasks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/storage"
)

func TestFollowsEveryTaskToTheEndUnwatched(t *testing.T) {
	for _, mode := range []fiberfake.CursorMode{fiberfake.CursorNullWhenCaughtUp, fiberfake.CursorRepeatWhenCaughtUp} {
		t.Run(mode.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, fiberfake.Config{Seed: 1, PeoplePerSecond: 3000, CursorMode: mode})
				id := e.start(750)
				task := e.waitFinished(id)
				if task.State != storage.StateSucceeded || task.NumResults != 750 || !task.Progress.FiberDone {
					t.Fatalf("task = %+v", task)
				}
				rs, err := e.store.ReadResults(testContext(t), id, 0, 1000)
				if err != nil {
					t.Fatal(err)
				}
				res, err := decodeResults(rs)
				if err != nil {
					t.Fatal(err)
				}
				var urls []string
				for _, r := range res {
					urls = append(urls, r.GetLinkedinUrl())
				}
				distinct(t, urls, 750)
			})
		})
	}
}

// TestWatchersFanOutWithoutExtraUpstreamCalls watches two equal tasks at the same time, one
// with 1 watcher and one with 200, so both pollers run under the same load, and compares the
// polls each task cost.
func TestWatchersFanOutWithoutExtraUpstreamCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{Seed: 2, PeoplePerSecond: 60})
		counter := &pollCounter{Upstream: e.client, calls: map[string]int{}}
		e.stop()
		e.client2 = counter
		e.startEngine(Policy{}) // the production policy, in simulated time
		one, many := e.start(600), e.start(600)

		var wg sync.WaitGroup
		errs := make(chan error, 201)
		watch := func(id string) {
			defer wg.Done()
			var n int
			err := e.engine.Watch(testContext(t), "alice", id, "", 0, false, func(u Update) error {
				n += len(u.Results)
				return nil
			})
			if err == nil && n != 600 {
				err = fmt.Errorf("a watcher of %s got %d results, want 600", id, n)
			}
			errs <- err
		}
		wg.Add(201)
		go watch(one)
		for range 200 {
			go watch(many)
		}
		e.waitAll(one, many)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		p1, p200 := counter.get(one), counter.get(many)
		t.Logf("poll calls: task with 1 watcher %d, task with 200 watchers %d", p1, p200)
		if d := p200 - p1; d < -2 || d > 2 {
			t.Errorf("200 watchers cost %d polls, 1 watcher %d: want equal within ±2", p200, p1)
		}
	})
}

func TestResumeWithTokenHasNoGapAndNoDuplicate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{Seed: 3, PeoplePerSecond: 800})
		id := e.start(400)

		// Disconnect after the first update that carries results.
		ctx, cancel := context.WithCancel(testContext(t))
		var first Update
		err := e.engine.Watch(ctx, "alice", id, "", 0, false, func(u Update) error {
			if len(u.Results) > 0 {
				first = u
				cancel()
				return context.Canceled
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("watch: %v", err)
		}
		rest := watchAll(t, e.engine, id, first.Position)
		got := append(urlsOf(t, 1, []Update{first}), urlsOf(t, first.Position+1, rest)...)
		whole := urlsOf(t, 1, watchAll(t, e.engine, id, 0))
		if len(got) != len(whole) || len(whole) != 400 {
			t.Fatalf("resumed %d results, uninterrupted %d, want 400", len(got), len(whole))
		}
		for i := range got {
			if got[i] != whole[i] {
				t.Fatalf("result %d differs: %s vs %s", i+1, got[i], whole[i])
			}
		}
		if last := rest[len(rest)-1]; !last.Final() || last.Task.State != storage.StateSucceeded {
			t.Errorf("last update %+v is not the terminal one", last.Task)
		}
	})
}

func TestWatchingAFinishedTaskCostsNoUpstreamCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{Seed: 4, PeoplePerSecond: 5000})
		id := e.start(300)
		e.waitFinished(id)
		before := e.sim.Stats()
		ups := watchAll(t, e.engine, id, 0)
		distinct(t, urlsOf(t, 1, ups), 300)
		if after := e.sim.Stats(); after.Endpoints[fiberfake.EndpointPoll].Calls != before.Endpoints[fiberfake.EndpointPoll].Calls {
			t.Errorf("watching a finished task polled Fiber")
		}
	})
}

// TestTerminalStateOnlyOnTheLastUpdate: a finished task holds more results than one update
// carries; every update but the last reads RUNNING, so a client that stops at the first
// terminal state has every result.
func TestTerminalStateOnlyOnTheLastUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{Seed: 6, PeoplePerSecond: 5000})
		n := 2*MaxResultsPerUpdate + 250
		id := e.start(n)
		e.waitFinished(id)
		for _, from := range []int{0, 100} { // a late watcher, and one resuming behind
			ups := watchAll(t, e.engine, id, from)
			if len(ups) != 3 {
				t.Fatalf("from %d: %d updates, want 3 (500, 500 and the rest)", from, len(ups))
			}
			for i, u := range ups {
				last := i == len(ups)-1
				if got := u.Task.State.Terminal(); got != last {
					t.Errorf("from %d: update %d of %d has state %v", from, i+1, len(ups), u.Task.State)
				}
				if u.Final() != last {
					t.Errorf("from %d: update %d of %d: Final() = %v", from, i+1, len(ups), u.Final())
				}
			}
			// A client that stops at the first terminal state.
			stop := slices.IndexFunc(ups, func(u Update) bool { return u.Task.State.Terminal() })
			distinct(t, urlsOf(t, from+1, ups[:stop+1]), n-from)
		}
	})
}

func TestCancelEndsTheWatchCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{Seed: 5, PeoplePerSecond: 200})
		id := e.start(500)
		var ups []Update
		canceled := false
		err := e.engine.Watch(testContext(t), "alice", id, "", 0, false, func(u Update) error {
			ups = append(ups, u)
			if len(u.Results) > 0 && !canceled {
				canceled = true
				r, err := e.engine.Cancel(testContext(t), "alice", id, "")
				if err != nil {
					return err
				}
				if r.CancelledCount == 0 || r.CreditsRefunded <= 0 {
					t.Errorf("cancel = %+v, want people cancelled and credits refunded", r)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		last := ups[len(ups)-1]
		if last.Task.State != storage.StateCanceled {
			t.Fatalf("final state %v, want CANCELED", last.Task.State)
		}
		urls := urlsOf(t, 1, ups)
		distinct(t, urls, last.Task.NumResults)
		if _, err := e.engine.Cancel(testContext(t), "alice", id, ""); !errors.Is(err, ErrFinished) {
			t.Errorf("second cancel: %v, want ErrFinished", err)
		}
	})
}

func TestRestartResumesFromTheStoredCursor(t *testing.T) {
	for _, mode := range []fiberfake.CursorMode{fiberfake.CursorNullWhenCaughtUp, fiberfake.CursorRepeatWhenCaughtUp} {
		t.Run(mode.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, fiberfake.Config{Seed: 6, PeoplePerSecond: 400, CursorMode: mode})
				id := e.start(400)
				var before []Update
				ctx, cancel := context.WithCancel(testContext(t))
				_ = e.engine.Watch(ctx, "alice", id, "", 0, false, func(u Update) error {
					before = append(before, u)
					if u.Position >= 150 {
						cancel()
						return context.Canceled
					}
					return nil
				})
				e.stop() // the engine goes away mid-task
				stored, err := e.store.GetTask(testContext(t), id)
				_ = stored
				if err == nil {
					t.Fatal("store still open after stop")
				}

				e.startEngine(fastPolicy)
				mid, err := e.store.GetTask(testContext(t), id)
				if err != nil {
					t.Fatal(err)
				}
				if mid.NumResults < 150 || mid.Progress.Cursor == "" {
					t.Fatalf("after restart the store holds %d results, cursor %q", mid.NumResults, mid.Progress.Cursor)
				}
				last := before[len(before)-1]
				after := watchAll(t, e.engine, id, last.Position)
				all := append(urlsOf(t, 1, before), urlsOf(t, last.Position+1, after)...)
				distinct(t, all, 400)
				if n := e.sim.Calls(fiberfake.EndpointStart); n != 1 {
					t.Errorf("%d starts upstream, want 1", n)
				}
			})
		})
	}
}

func TestOtherOwnersSeeNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{Seed: 7, PeoplePerSecond: 5000})
		id := e.start(10)
		e.waitFinished(id)
		if _, err := e.engine.Get(testContext(t), "mallory", id, ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get by another owner: %v", err)
		}
		if err := e.engine.Delete(testContext(t), "mallory", id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Delete by another owner: %v", err)
		}
		if err := e.engine.Delete(testContext(t), "alice", id); err != nil {
			t.Errorf("Delete: %v", err)
		}
		if _, err := e.engine.Get(testContext(t), "alice", id, ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get after delete: %v", err)
		}
	})
}

func TestAdoptsAnUnknownTaskWithItsKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{Seed: 8, PeoplePerSecond: 5000})
		resp, err := e.client.Start(testContext(t), testKey, fiberStart(20))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.engine.Get(testContext(t), "bob", resp.TaskID, ""); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown task without key: %v", err)
		}
		if _, err := e.engine.Get(testContext(t), "bob", "no-such-task", testKey); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a task Fiber does not know: %v", err)
		}
		ups := watchAllAs(t, e.engine, "bob", resp.TaskID, testKey)
		distinct(t, urlsOf(t, 1, ups), 20)
	})
}
