package tasks

import (
	"testing"
	"time"

	"github.com/fibergate/fibergate/internal/storage"
)

// pollAnswer is one poll answer fed to a pacer, and the wait it should choose after it.
type pollAnswer struct {
	after     time.Duration // since the previous poll (the first: since the task's start)
	completed int           // numCompleted
	failed    int           // numFailed
	remaining int           // numRemaining
	fiberDone bool          // Fiber said done
	results   int           // stored results after the answer
	skip      int           // stored results after the task's cursor
	page      int           // results on the page
	moved     bool          // the page's nextCursor moved the cursor
	watched   bool
	want      time.Duration // the wait next returns, within a millisecond
}

func TestPacer(t *testing.T) {
	const s, ms = time.Second, time.Millisecond
	// stalled repeats a and sets its wait to each of wants in turn, with the previous wait
	// as the time since the previous poll.
	stalled := func(prevWait time.Duration, a pollAnswer, wants ...time.Duration) []pollAnswer {
		var out []pollAnswer
		for _, w := range wants {
			a.after, a.want = prevWait, w
			out = append(out, a)
			prevWait = w
		}
		return out
	}
	cat := func(parts ...[]pollAnswer) []pollAnswer {
		var out []pollAnswer
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	// A task at 50 people/s, first polled after a second: 50 results, a null cursor.
	first := pollAnswer{after: s, completed: 50, remaining: 450, results: 50, skip: 50, page: 50, want: 1020 * ms}
	firstWatched := first
	firstWatched.watched = true
	tests := []struct {
		name    string
		fresh   bool
		answers []pollAnswer
	}{
		{"a full page with a new cursor is followed at once when another full page waits", true, []pollAnswer{
			{after: s, completed: 250, remaining: 250, results: 100, page: 100, moved: true, want: 0},
			{completed: 250, remaining: 250, results: 200, page: 100, moved: true, want: 500 * ms}, // 50 wait: 51 more at 250/s
		}},
		{"a full page with a new cursor is followed at once when another full page waits, watched", true, []pollAnswer{
			{after: s, completed: 250, remaining: 250, results: 100, page: 100, moved: true, watched: true, want: 0},
		}},
		{"a full page with less than a page behind it is timed, not followed into a part page", true, []pollAnswer{
			{after: s, completed: 150, remaining: 350, results: 100, page: 100, moved: true, want: 500 * ms}, // 51 more at 150/s
		}},
		{"a full page that caught up (null cursor) waits the pace", true, []pollAnswer{
			{after: s, completed: 100, remaining: 400, results: 100, skip: 100, page: 100, want: 500 * ms},
		}},
		{"a short page waits until a full one should be waiting", true, []pollAnswer{first}},
		{"a stall backs off up to the cap, and progress resets it", true, cat(
			[]pollAnswer{first},
			stalled(1020*ms, first, 2040*ms, 4080*ms, 8160*ms, 16320*ms, 30*s, 30*s),
			[]pollAnswer{{after: 30 * s, completed: 100, remaining: 400, results: 100, skip: 100, page: 100, want: 500 * ms}},
		)},
		{"a watched task backs off up to WatchedMaxInterval", true, cat(
			[]pollAnswer{firstWatched},
			stalled(1020*ms, firstWatched, 2*s, 2*s, 2*s),
		)},
		{"a slow task waits the pace unwatched, WatchedMaxInterval watched", true, []pollAnswer{
			{after: s, completed: 5, remaining: 495, results: 5, skip: 5, page: 5, want: 19200 * ms},
			{after: 19200 * ms, completed: 101, remaining: 399, results: 100, page: 100, moved: true, want: 20 * s}, // 1 waits: 100 more at 5/s
			{completed: 101, remaining: 399, results: 101, skip: 1, page: 1, watched: true, want: 2 * s},
		}},
		{"the last people are awaited, not a full page", true, []pollAnswer{
			{after: s, completed: 50, remaining: 10, results: 50, skip: 50, page: 50, want: 500 * ms},
			{after: 500 * ms, completed: 70, remaining: 20, results: 70, skip: 70, page: 70, want: 500 * ms},
		}},
		{"after done, full pages are drained at once", false, []pollAnswer{
			{completed: 500, fiberDone: true, results: 100, page: 100, moved: true, want: 0},
			{completed: 500, fiberDone: true, results: 200, page: 100, moved: true, want: 0},
		}},
		{"people counted but never paged do not make a hot loop", false, cat(
			[]pollAnswer{{completed: 50, failed: 250, remaining: 200, results: 50, skip: 50, page: 50, want: 500 * ms}},
			stalled(500*ms, pollAnswer{completed: 50, failed: 250, remaining: 200, results: 50, skip: 50, page: 50},
				1*s, 2*s, 4*s, 8*s, 16*s, 30*s),
		)},
		{"a resumed task's earlier progress is not its pace", false, []pollAnswer{
			{completed: 400, remaining: 100, results: 340, skip: 40, page: 40, want: 500 * ms},
			{after: 500 * ms, completed: 425, remaining: 75, results: 365, skip: 65, page: 65, want: 720 * ms},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
			p := newPacer(Policy{}.withDefaults(), start, tt.fresh)
			at := start
			for i, a := range tt.answers {
				at = at.Add(a.after)
				task := storage.Task{
					Stats:      storage.Stats{NumCompleted: a.completed, NumFailed: a.failed, NumRemaining: a.remaining},
					Progress:   storage.Progress{Skip: a.skip, FiberDone: a.fiberDone},
					NumResults: a.results,
				}
				p.observe(at, task, a.page, a.moved)
				got := p.next(task, a.watched)
				if d := got - a.want; d < -time.Millisecond || d > time.Millisecond {
					t.Errorf("answer %d (%+v): wait %v, want %v", i+1, a, got, a.want)
				}
			}
		})
	}
}
