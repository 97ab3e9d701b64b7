package tasks

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/storage"
)

// timeline says when each poll of a task came after Fiber started it, and the new results it
// brought (N: a null nextCursor), for a failure message.
func timeline(start time.Time, polls []fiberfake.PollRecord) string {
	offsets := map[string]int{"": 0}
	reached := 0
	var b strings.Builder
	for _, p := range polls {
		end := offsets[p.Cursor] + p.Results
		if p.NextCursor != nil {
			offsets[*p.NextCursor] = end
		}
		null := ""
		if p.NextCursor == nil {
			null = "N"
		}
		fmt.Fprintf(&b, " %.2fs:%d%s", p.At.Sub(start).Seconds(), max(0, end-reached), null)
		reached = max(reached, end)
	}
	return b.String()
}

// startLate starts a batch of n people upstream, and tracks it lag later, as the server does
// once Fiber's answer to the start has come back (Fiber was at work meanwhile).
func (e *env) startLate(n int, lag time.Duration) string {
	e.t.Helper()
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("https://www.linkedin.com/in/person-%d", i)
	}
	resp, err := e.client.Start(testContext(e.t), testKey, fiber.StartRequest{LinkedInURLs: urls})
	if err != nil {
		e.t.Error(err)
		return ""
	}
	time.Sleep(lag)
	out := &cdv1.StartBatchResponse{Output: &cdv1.StartBatchOutput{TaskId: resp.TaskID, NumPeopleEnqueued: int32(resp.NumPeopleEnqueued)}}
	if _, err := e.engine.Track(testContext(e.t), "alice", testKey, out, storage.Enrichment{WorkEmails: true, PersonalEmails: true, PhoneNumbers: true}); err != nil {
		e.t.Error(err)
		return ""
	}
	return resp.TaskID
}

// TestResultsPerPollOfTheBench reproduces cmd/bench's polleff scenario in fake time: four
// tasks each of 500 and 2000 people, watched (a watch from the moment the task is tracked
// on) and not, started together on an engine that knows nothing of the key's pace, and each
// tracked a while after Fiber started it (10ms to 205ms: Fiber is at work before the start's
// answer is back). It counts their polls as the bench does: every poll brings a full page
// (ideal), but for watched tasks when Fiber finishes fewer than a page in WatchedMaxInterval
// (50/s: 104 people take 2.08s): their first poll at FirstPoll brings a part page, and their
// pages at least every WatchedMaxInterval leave one more part page, a poll more per task.
func TestResultsPerPollOfTheBench(t *testing.T) {
	type group struct {
		people  int
		watched bool
	}
	groups := []group{{500, true}, {500, false}, {2000, true}, {2000, false}}
	const perGroup = 4
	// Below this pace, a watched task's full page takes longer than WatchedMaxInterval.
	slowest := float64(PageSize+1+paceSlack) / Policy{}.withDefaults().WatchedMaxInterval.Seconds()
	for _, mode := range []fiberfake.CursorMode{fiberfake.CursorNullWhenCaughtUp, fiberfake.CursorRepeatWhenCaughtUp} {
		for _, pps := range []float64{50, 100, 150} {
			t.Run(fmt.Sprintf("%v/%v per s", mode, pps), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					e := newEnv(t, fiberfake.Config{Seed: 1, PeoplePerSecond: pps, CursorMode: mode})
					e.stop()
					e.startEngine(Policy{})
					ids := make([]string, perGroup*len(groups))
					starts := make([]time.Time, len(ids))
					var wg sync.WaitGroup
					for i := range ids {
						g := groups[i%len(groups)]
						wg.Go(func() {
							starts[i] = time.Now()
							ids[i] = e.startLate(g.people, time.Duration(10+13*i)*time.Millisecond)
							if ids[i] == "" {
								return
							}
							if g.watched {
								time.Sleep(time.Millisecond) // the watch comes once the start has returned
								if err := e.engine.Watch(testContext(t), "alice", ids[i], "", 0, false, func(Update) error { return nil }); err != nil {
									t.Errorf("watch: %v", err)
								}
							}
							e.waitFinished(ids[i])
						})
					}
					wg.Wait()
					if t.Failed() {
						return
					}
					for gi, g := range groups {
						pages := g.people / PageSize
						want := fiberfake.PageCounts{Full: perGroup * pages}
						if g.watched && pps < slowest {
							want = fiberfake.PageCounts{Full: perGroup * (pages - 1), Part: perGroup * 2}
						}
						var got fiberfake.PageCounts
						var lines strings.Builder
						for i, id := range ids {
							if i%len(groups) != gi {
								continue
							}
							ps := e.sim.Polls(id)
							got = got.Add(fiberfake.CountPages(ps, PageSize))
							fmt.Fprintf(&lines, "\n\ttask %d:%s", i, timeline(starts[i], ps))
						}
						polls := got.Polls()
						t.Logf("%d people, watched %v: %.1f results per poll (%d polls: %v)", g.people, g.watched,
							float64(perGroup*g.people)/float64(polls), polls, got)
						if got != want {
							t.Errorf("%d people, watched %v: %v, want %v; polls after Fiber's start (new results, N: null cursor):%s",
								g.people, g.watched, got, want, lines.String())
						}
					}
				})
			})
		}
	}
}
