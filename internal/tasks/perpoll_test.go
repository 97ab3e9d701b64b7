package tasks

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

// TestResultsPerPollWhileFiberWorks follows unwatched tasks with the production policy while
// the simulator finishes their people at a steady pace (10% without data), and counts their
// polls. The first task of a key measures Fiber's pace with its first poll, a part page when
// fewer than 101 people are finished by then; every later task is paced from its start on by
// what the key's tasks measured, and fetches only full pages (the last one aside): 5 polls for
// 500 people, 20 for 2000. Figures: go test -run TestResultsPerPollWhileFiberWorks -v.
func TestResultsPerPollWhileFiberWorks(t *testing.T) {
	for _, mode := range []fiberfake.CursorMode{fiberfake.CursorNullWhenCaughtUp, fiberfake.CursorRepeatWhenCaughtUp} {
		for _, pps := range []float64{40, fiberfake.DefaultPeoplePerSecond, 150} {
			for _, n := range []int{500, 2000} {
				t.Run(fmt.Sprintf("%v/%v per s/%d people", mode, pps, n), func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						e := newEnv(t, fiberfake.Config{Seed: 17, PeoplePerSecond: pps, CursorMode: mode})
						e.stop()
						e.startEngine(Policy{})
						first := e.start(n)
						e.waitFinished(first)
						next := e.start(n)
						e.waitFinished(next)
						pages := (n + PageSize - 1) / PageSize
						cold, warm := len(e.sim.Polls(first)), len(e.sim.Polls(next))
						t.Logf("%s: first task %d polls (%.1f results per poll), next task %d polls (%.1f results per poll)", t.Name(),
							cold, float64(n)/float64(cold), warm, float64(n)/float64(warm))
						if cold > pages+1 {
							t.Errorf("the first task took %d polls, want at most %d", cold, pages+1)
						}
						if warm != pages {
							t.Errorf("the next task took %d polls, want %d", warm, pages)
						}
					})
				})
			}
		}
	}
}

// TestResultsPerPollOfTasksStartedTogether: of ten 500-person tasks started at once on an
// engine that has not measured the key's pace yet, one spends a part page on measuring it and
// the others are paced by its measure; the ten started after them spend no part page.
func TestResultsPerPollOfTasksStartedTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{Seed: 18})
		e.stop()
		e.startEngine(Policy{})
		const tasks, people = 10, 500
		round := func() (polls int) {
			ids := make([]string, tasks)
			for i := range ids {
				ids[i] = e.start(people)
			}
			var wg sync.WaitGroup
			for _, id := range ids {
				wg.Go(func() { e.waitFinished(id) })
			}
			wg.Wait()
			for _, id := range ids {
				polls += len(e.sim.Polls(id))
			}
			return polls
		}
		cold, warm := round(), round()
		if cold > tasks*people/PageSize+1 {
			t.Errorf("the first round took %d polls, want at most %d", cold, tasks*people/PageSize+1)
		}
		t.Logf("%d tasks of %d people at %v people/s started together: %.1f results per poll on a cold engine, then %.1f",
			tasks, people, float64(fiberfake.DefaultPeoplePerSecond), float64(tasks*people)/float64(cold), float64(tasks*people)/float64(warm))
		if warm != tasks*people/PageSize {
			t.Errorf("the second round took %d polls, want %d", warm, tasks*people/PageSize)
		}
	})
}

// TestFirstPollOfAWatchedTaskIsNotDelayed: with the key's pace known, an unwatched task just
// started is first polled when a full page should be waiting (104 people at 50/s: 2.08s, to
// within a person: the pace is measured on counts rounded down); one that gains a watcher
// while it waits is polled FirstPoll after its start, as without a known pace.
func TestFirstPollOfAWatchedTaskIsNotDelayed(t *testing.T) {
	for _, watched := range []bool{false, true} {
		t.Run(fmt.Sprintf("watched=%v", watched), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, fiberfake.Config{Seed: 19, PeoplePerSecond: 50, NoDataRate: -1})
				times := &pollTimes{Upstream: e.client}
				e.stop()
				e.client2 = times
				e.startEngine(Policy{})
				e.waitFinished(e.start(500)) // measures the key's pace
				times.mu.Lock()
				times.at = nil
				times.mu.Unlock()
				id := e.start(500)
				synctest.Wait() // the poller waits for its first poll
				watchErr := make(chan error, 1)
				if watched {
					ctx := testContext(t)
					go func() { watchErr <- e.engine.Watch(ctx, "alice", id, "", 0, false, func(Update) error { return nil }) }()
				} else {
					watchErr <- nil
				}
				task := e.waitFinished(id)
				if err := <-watchErr; err != nil {
					t.Fatalf("watch: %v", err)
				}
				times.mu.Lock()
				first := times.at[0].Sub(task.CreateTime)
				times.mu.Unlock()
				lo, hi := Policy{}.withDefaults().FirstPoll, Policy{}.withDefaults().FirstPoll
				if !watched {
					lo, hi = 2060*time.Millisecond, 2100*time.Millisecond
				}
				if first < lo || first > hi {
					t.Errorf("first poll %v after the start, want %v to %v", first, lo, hi)
				}
			})
		})
	}
}
