package tasks

import (
	"testing"
	"testing/synctest"
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
	// A task at 50 people/s, first polled after a second: 50 results, a null cursor. The next
	// poll waits for 51 more and paceSlack more, watched or not, at the pace measured from the
	// task's start taken startLag early: 50 in 1.25s, 40/s.
	first := pollAnswer{after: s, completed: 50, remaining: 450, results: 50, skip: 50, page: 50, want: 1350 * ms}
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
		{"a full page with exactly a page behind it is timed: that page would end caught up", true, []pollAnswer{
			{after: s, completed: 200, remaining: 300, results: 100, page: 100, moved: true, want: 500 * ms},
		}},
		{"a full page that caught up (null cursor) waits the pace", true, []pollAnswer{
			{after: s, completed: 100, remaining: 400, results: 100, skip: 100, page: 100, want: 500 * ms},
		}},
		{"a short page waits until a full one should be waiting", true, []pollAnswer{first}},
		{"a stall backs off up to the cap, and progress resets it", true, cat(
			[]pollAnswer{first},
			stalled(1350*ms, first, 2700*ms, 5400*ms, 10800*ms, 21600*ms, 30*s, 30*s),
			// 4 more at 50 people in the last 30s
			[]pollAnswer{{after: 30 * s, completed: 100, remaining: 400, results: 100, skip: 100, page: 100, want: 2400 * ms}},
			// 41+3 more at 60 people in the 2.4s since: the answers before are older than paceWindow
			[]pollAnswer{{after: 2400 * ms, completed: 160, remaining: 340, results: 160, skip: 60, page: 60, want: 1760 * ms}},
		)},
		{"a watched task backs off up to WatchedMaxInterval", true, cat(
			[]pollAnswer{firstWatched},
			stalled(1350*ms, firstWatched, 2*s, 2*s, 2*s),
		)},
		{"a slow task waits the pace unwatched, WatchedMaxInterval watched", true, []pollAnswer{
			{after: s, completed: 5, remaining: 495, results: 5, skip: 5, page: 5, want: 24750 * ms}, // 96+3 more at 4/s (5 in 1.25s)
			// 28 wait: 73+3 more at 123 people in 24.75s
			{after: 24750 * ms, completed: 128, remaining: 372, results: 100, page: 100, moved: true, want: 15292 * ms},
			{after: 2 * s, completed: 138, remaining: 362, results: 138, skip: 38, page: 38, watched: true, want: 2 * s},
		}},
		{"the last people are awaited, not a full page", true, []pollAnswer{
			{after: s, completed: 50, remaining: 10, results: 50, skip: 50, page: 50, want: 500 * ms},
			// 20+3 more at 40/s: 70 in the 1.75s since the start taken startLag early (the answers
			// span less than paceSpan)
			{after: 500 * ms, completed: 70, remaining: 20, results: 70, skip: 70, page: 70, want: 575 * ms},
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
			{after: 500 * ms, completed: 425, remaining: 75, results: 365, skip: 65, page: 65, want: 780 * ms}, // 36+3 more at 50/s
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
			p := newPacer(Policy{}.withDefaults(), start, tt.fresh, &keyPace{})
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

// TestPacerFirstPoll: when a task just started is first polled, by the pace of its key's
// other tasks, and how one task at a time measures it while it is unknown. Each case runs in
// a synctest bubble, whose clock reads the task's start.
func TestPacerFirstPoll(t *testing.T) {
	const s, ms = time.Second, time.Millisecond
	policy := Policy{}.withDefaults()
	task := func(people int) storage.Task {
		return storage.Task{Stats: storage.Stats{TotalPeopleToFetch: people, NumRemaining: people}}
	}
	known := func(rate float64) func(time.Time) *keyPace {
		return func(time.Time) *keyPace { return &keyPace{rate: rate} }
	}
	probed := func(after time.Duration) func(time.Time) *keyPace {
		return func(start time.Time) *keyPace { return &keyPace{probeAt: start.Add(after)} }
	}
	tests := []struct {
		name    string
		pace    func(start time.Time) *keyPace
		people  int
		watched bool
		want    time.Duration
	}{
		{"watched: FirstPoll", known(50), 500, true, s},
		{"a full page with a new cursor at the key's pace", known(50), 500, false, 2080 * ms}, // 101+3 at 50/s
		{"a small task, done sooner than FirstPoll", known(50), 20, false, s},
		{"a small task, done later", known(10), 20, false, 2300 * ms}, // 20+3 at 10/s
		{"at most MaxInterval", known(1), 500, false, 30 * s},
		{"the pace unknown: this task measures it", known(0), 500, false, s},
		{"the pace unknown, another task measures it", probed(s), 500, false, 1500 * ms},
		{"the pace unknown, another task's measure came to nothing", probed(-s), 500, false, s},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				p := newPacer(policy, start, true, tt.pace(start))
				if got := p.first(task(tt.people), tt.watched); got != tt.want {
					t.Errorf("first = %v, want %v", got, tt.want)
				}
			})
		})
	}

	t.Run("a deferred first poll is timed by the pace measured meanwhile", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start, kp := time.Now(), &keyPace{}
			prober, deferred := newPacer(policy, start, true, kp), newPacer(policy, start, true, kp)
			if got := prober.first(task(500), false); got != s {
				t.Fatalf("the first task's first = %v, want %v", got, s)
			}
			if got := deferred.first(task(500), false); got != 1500*ms {
				t.Fatalf("the second task's first = %v, want %v", got, 1500*ms)
			}
			// The prober's first answer: 50 finished a second after the start, 40/s from the start
			// taken startLag early.
			answer := storage.Task{Stats: storage.Stats{NumCompleted: 50, NumRemaining: 450}, NumResults: 50, Progress: storage.Progress{Skip: 50}}
			prober.observe(start.Add(s), answer, 50, false)
			if got := deferred.again(task(500), start.Add(1500*ms), false); got != 1100*ms {
				t.Errorf("again = %v, want %v (104 people at 40/s, from the start)", got, 1100*ms)
			}
			if got := deferred.again(task(500), start.Add(2600*ms), false); got != 0 {
				t.Errorf("again, a second time = %v, want 0", got)
			}
		})
	})
	t.Run("a deferred first poll ended early by a watcher or a cancel is not prolonged", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			p := newPacer(policy, start, true, probed(s)(start))
			p.first(task(500), false)
			p.shared.set(50)
			if got := p.again(task(500), start.Add(s), false); got != 0 {
				t.Errorf("again = %v, want 0", got)
			}
		})
	})
	t.Run("a deferred first poll with the pace still unknown measures it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			p := newPacer(policy, start, true, probed(s)(start))
			p.first(task(500), false)
			if got := p.again(task(500), start.Add(1500*ms), false); got != 0 {
				t.Errorf("again = %v, want 0", got)
			}
		})
	})
}
