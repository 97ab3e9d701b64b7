package tasks

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

// TestFreshnessAgainstADirectPoller checks that the poll policy does not buy its savings with
// delay. A 600-person task runs at 60 people/s; 20 watchers follow it through the engine while,
// in the same run, a consumer polls Fiber directly every 2 s (following full pages at once).
// Both run in simulated time in one synctest bubble, so the figures are exact and repeatable: the
// watchers' time is when the last result was stored (delivery to watchers is in-process and
// immediate; BenchmarkFanOutLatency measures it in real time).
func TestFreshnessAgainstADirectPoller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{Seed: 9, PeoplePerSecond: 60, NoDataRate: -1})
		counter := &pollCounter{Upstream: e.client, calls: map[string]int{}}
		e.stop()
		e.client2 = counter
		e.startEngine(Policy{})
		t0 := time.Now()
		id := e.start(600)

		var wg sync.WaitGroup
		watcherDone := make([]time.Time, 20)
		for i := range watcherDone {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := 0
				_ = e.engine.Watch(testContext(t), "alice", id, "", 0, false, func(u Update) error {
					n += len(u.Results)
					if n == 600 && watcherDone[i].IsZero() {
						watcherDone[i] = u.Task.UpdateTime
					}
					return nil
				})
			}()
		}

		// The direct consumer, in the same bubble.
		var direct time.Time
		directDone := make(chan struct{})
		go func() {
			defer close(directDone)
			seen := map[string]bool{}
			var cursor *string
			for len(seen) < 600 {
				resp, err := e.client.Poll(testContext(t), testKey, fiber.PollRequest{TaskID: id, Cursor: cursor, Take: 100})
				if err != nil {
					t.Error(err)
					return
				}
				for _, r := range resp.Results {
					seen[r.LinkedInURL] = true
				}
				if resp.NextCursor != nil {
					cursor = resp.NextCursor
				}
				if len(resp.Results) == 100 && resp.NextCursor != nil {
					continue // a full page: the next one is waiting
				}
				if len(seen) == 600 {
					break
				}
				time.Sleep(2 * time.Second)
			}
			direct = time.Now()
		}()

		e.waitFinished(id)
		<-directDone
		wg.Wait()

		var last time.Time
		for _, d := range watcherDone {
			if d.IsZero() {
				t.Fatal("a watcher did not get every result")
			}
			if d.After(last) {
				last = d
			}
		}
		ours, theirs := last.Sub(t0), direct.Sub(t0)
		t.Logf("every result held: 20 watchers at %v, direct 2 s poller at %v (ratio %.3f); fibergate polls %d",
			ours, theirs, ours.Seconds()/theirs.Seconds(), counter.get(id))
		if ours.Seconds() > 1.2*theirs.Seconds() {
			t.Errorf("watchers held every result at %v, later than 1.2 × the direct poller's %v", ours, theirs)
		}
	})
}
