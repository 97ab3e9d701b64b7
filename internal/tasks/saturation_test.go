package tasks

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/storage"
)

// pollLog records every poll the engine makes: which task, whether it was urgent, when it was
// asked for and when it returned (in a bubble, where the simulator answers at once, the
// difference is the wait for a slot), and its error.
type pollLog struct {
	Upstream
	mu    sync.Mutex // guards polls
	polls []pollRecord
}

type pollRecord struct {
	id            string
	urgent        bool
	asked, answer time.Time
	err           error
}

func (p *pollLog) Poll(ctx context.Context, key string, req fiber.PollRequest) (*fiber.PollResponse, error) {
	asked := time.Now()
	resp, err := p.Upstream.Poll(ctx, key, req)
	p.mu.Lock()
	p.polls = append(p.polls, pollRecord{id: req.TaskID, urgent: budget.Urgent(ctx), asked: asked, answer: time.Now(), err: err})
	p.mu.Unlock()
	return resp, err
}

func (p *pollLog) get() []pollRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]pollRecord(nil), p.polls...)
}

// levelCounter counts log records by level.
type levelCounter struct {
	mu     sync.Mutex // guards counts, first
	counts map[slog.Level]int
	first  map[slog.Level]string // the first message at each level
}

func newLevelCounter() *levelCounter {
	return &levelCounter{counts: map[slog.Level]int{}, first: map[slog.Level]string{}}
}

func (h *levelCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *levelCounter) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *levelCounter) WithGroup(string) slog.Handler            { return h }
func (h *levelCounter) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counts[r.Level] == 0 {
		h.first[r.Level] = r.Message
	}
	h.counts[r.Level]++
	return nil
}

// atLeast returns how many records were at level or above, and the first one's message.
func (h *levelCounter) atLeast(level slog.Level) (int, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n, msg := 0, ""
	for l, c := range h.counts {
		if l >= level {
			n += c
			if msg == "" {
				msg = h.first[l]
			}
		}
	}
	return n, msg
}

// saturate replaces env e's engine with one polling through a Retrier on a limiter of limit
// (MaxWait maxWait, logging to log, as the engine does) and policy p, the polls recorded.
func saturate(e *env, limit budget.Limit, maxWait time.Duration, p Policy, log *slog.Logger) (*budget.Limiter, *pollLog) {
	e.t.Helper()
	limiter, err := budget.New(budget.Config{Limits: budget.Limits{Poll: limit}, MaxWait: maxWait, Logger: log})
	if err != nil {
		e.t.Fatal(err)
	}
	e.stop()
	polls := &pollLog{Upstream: fiber.NewRetrier(e.client, fiber.RetryConfig{Limiter: limiter})}
	e.client2, e.logger = polls, log
	e.startEngine(p)
	return limiter, polls
}

// TestSaturatedPollBudget runs 100 unwatched and 4 watched tasks of 10 people, whose pollers
// want far more polls than the limit (8 a second, which the simulator enforces too) allows,
// with a MaxWait of 2s that the waits for a slot far exceed. No poll fails, nothing is logged
// at warn level, every task finishes with its results, no poll is refused upstream, watched
// tasks go first (no watched poll waits more than one window), and no unwatched poll waits
// longer than the budget's bound: 4 slots per unwatched task, ⌈4·100/8⌉ windows.
func TestSaturatedPollBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	synctest.Test(t, func(t *testing.T) {
		const unwatched, watched, people = 100, 4, 10
		limit := budget.Limit{N: 8, Per: time.Second}
		window := limit.Per + budget.DefaultMargin(limit)
		e := newEnv(t, fiberfake.Config{
			Seed: 17, PeoplePerSecond: 1,
			Limits: fiberfake.Limits{
				Start: fiberfake.Rate{N: 1 << 20, Per: time.Minute}, // the starts are not what is tested
				Poll:  fiberfake.Rate{N: limit.N, Per: limit.Per},
			},
		})
		logs := newLevelCounter()
		limiter, polls := saturate(e, limit, 2*time.Second,
			Policy{MinInterval: 500 * time.Millisecond, MaxInterval: 2 * time.Second, WatchedMaxInterval: time.Second},
			slog.New(logs))

		isWatched := map[string]bool{}
		var ids []string
		var watches sync.WaitGroup
		for i := range unwatched + watched {
			id := e.start(people)
			ids = append(ids, id)
			if i%(unwatched/watched+1) == 0 && len(isWatched) < watched {
				isWatched[id] = true
				watches.Go(func() { watchAll(t, e.engine, id, 0) })
			}
		}
		e.waitAll(ids...)
		watches.Wait()

		for _, id := range ids {
			if task := e.waitFinished(id); task.State != storage.StateSucceeded || task.NumResults != people {
				t.Errorf("task %s: %v with %d results, want SUCCEEDED with %d", id, task.State, task.NumResults, people)
			}
		}
		if n, msg := logs.atLeast(slog.LevelWarn); n > 0 {
			t.Errorf("%d records at warn level or above, the first %q", n, msg)
		}
		if st := e.sim.Stats().Endpoints[fiberfake.EndpointPoll]; st.RateLimited != 0 {
			t.Errorf("the simulator refused %d polls", st.RateLimited)
		}
		bound := time.Duration(math.Ceil(4*unwatched/float64(limit.N))) * window
		var longest [2]time.Duration // unwatched, watched
		var total [2]time.Duration
		var count [2]int
		for _, p := range polls.get() {
			if p.err != nil {
				t.Errorf("poll of %s failed: %v", p.id, p.err)
			}
			if p.urgent != isWatched[p.id] && p.answer.Before(e.waitFinished(p.id).FinishTime) {
				t.Errorf("poll of %s: urgent %v, watched %v", p.id, p.urgent, isWatched[p.id])
			}
			k := 0
			if p.urgent {
				k = 1
			}
			waited := p.answer.Sub(p.asked)
			longest[k] = max(longest[k], waited)
			total[k] += waited
			count[k]++
		}
		st := limiter.Stats().Totals[fiber.EndpointPoll]
		t.Logf("%d polls (%d watched), %d queued; mean wait unwatched %v, watched %v; longest unwatched %v (bound %v), watched %v",
			st.Grants, count[1], st.Queued, total[0]/time.Duration(max(count[0], 1)), total[1]/time.Duration(max(count[1], 1)),
			longest[0], bound, longest[1])
		if st.FastFails != 0 {
			t.Errorf("%d Waits failed fast", st.FastFails)
		}
		if longest[0] > bound {
			t.Errorf("an unwatched poll waited %v, longer than the bound %v", longest[0], bound)
		}
		if longest[1] > window {
			t.Errorf("a watched poll waited %v, more than a window (%v)", longest[1], window)
		}
		if longest[0] < 4*window {
			t.Errorf("the longest unwatched poll waited %v: the budget was not saturated", longest[0])
		}
	})
}

// TestSaturatedDrain: 20 tasks of 500 people, all finished upstream, drained through a poll
// limit of 24 per 6s (Fiber's 240/min pace): 10,000 results need at least 100 polls, and 100
// polls span at least ⌊99/24⌋ windows from the first to the last, since no window holds more
// than 24. The drain must run at 95% of that pace or better, in the bubble's exact time, with
// no poll refused upstream.
func TestSaturatedDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	synctest.Test(t, func(t *testing.T) {
		const tasks, people = 20, 500
		limit := budget.Limit{N: 24, Per: 6 * time.Second}
		window := limit.Per + budget.DefaultMargin(limit)
		e := newEnv(t, fiberfake.Config{
			Seed: 19, PeoplePerSecond: math.Inf(1),
			Limits: fiberfake.Limits{Poll: fiberfake.Rate{N: limit.N, Per: limit.Per}},
		})
		logs := newLevelCounter()
		_, polls := saturate(e, limit, 2*time.Second, Policy{}, slog.New(logs))
		var ids []string
		for range tasks {
			ids = append(ids, e.start(people))
		}
		e.waitAll(ids...)

		ps := polls.get()
		first, last := ps[0].asked, ps[0].answer
		for _, p := range ps {
			if p.err != nil {
				t.Errorf("poll of %s failed: %v", p.id, p.err)
			}
			first, last = minTime(first, p.answer), maxTime(last, p.answer)
		}
		minPolls := tasks * people / PageSize
		ideal := time.Duration((minPolls-1)/limit.N) * window
		took := last.Sub(first)
		pace := ideal.Seconds() / took.Seconds()
		t.Logf("%d results through %d polls (at least %d) in %v from the first poll to the last; the limit allows %v: %.2f of its pace",
			tasks*people, len(ps), minPolls, took, ideal, pace)
		if pace < 0.95 {
			t.Errorf("drained at %.2f of the poll limit's pace, want at least 0.95", pace)
		}
		if st := e.sim.Stats().Endpoints[fiberfake.EndpointPoll]; st.RateLimited != 0 {
			t.Errorf("the simulator refused %d polls", st.RateLimited)
		}
		if n, msg := logs.atLeast(slog.LevelWarn); n > 0 {
			t.Errorf("%d records at warn level or above, the first %q", n, msg)
		}
	})
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// writeCounter counts the writes the engine makes to its store.
type writeCounter struct {
	Store
	mu     sync.Mutex // guards writes
	writes int
}

func (w *writeCounter) count() {
	w.mu.Lock()
	w.writes++
	w.mu.Unlock()
}

func (w *writeCounter) get() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writes
}

func (w *writeCounter) CreateTask(ctx context.Context, t storage.Task) error {
	w.count()
	return w.Store.CreateTask(ctx, t)
}

func (w *writeCounter) AppendResults(ctx context.Context, id string, fromSeq int, results [][]byte, u storage.Update) error {
	w.count()
	return w.Store.AppendResults(ctx, id, fromSeq, results, u)
}

func (w *writeCounter) SetCancellation(ctx context.Context, id string, c []byte) error {
	w.count()
	return w.Store.SetCancellation(ctx, id, c)
}

func (w *writeCounter) DeleteTask(ctx context.Context, id string) error {
	w.count()
	return w.Store.DeleteTask(ctx, id)
}

func (w *writeCounter) PurgeFinished(ctx context.Context, before time.Time) (int, error) {
	w.count()
	return w.Store.PurgeFinished(ctx, before)
}

// TestThousandTasks: 1,000 running tasks of 10 people on a slow Fiber (a person every 200s)
// under Fiber's 240 polls a minute, the default policy and a MaxWait of 2m: for five minutes
// the budget is saturated, every window's 240 polls are spent, no poll fails and nothing is
// logged at warn level; a poll costs at most one store write (none when it brings nothing new).
func TestThousandTasks(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	synctest.Test(t, func(t *testing.T) {
		const tasks, people = 1000, 10
		limit := budget.Limit{N: 240, Per: time.Minute}
		window := limit.Per + budget.DefaultMargin(limit)
		e := newEnv(t, fiberfake.Config{
			Seed: 23, PeoplePerSecond: 0.005,
			Limits: fiberfake.Limits{
				Start: fiberfake.Rate{N: 1 << 20, Per: time.Minute},
				Poll:  fiberfake.Rate{N: limit.N, Per: limit.Per},
			},
		})
		writes := &writeCounter{}
		e.wrapStore = func(s Store) Store { writes.Store = s; return writes }
		logs := newLevelCounter()
		limiter, polls := saturate(e, limit, 2*time.Minute, Policy{}, slog.New(logs))
		for range tasks {
			e.start(people)
		}
		t0 := time.Now()
		created := writes.get()
		time.Sleep(5*window + time.Second)
		st := limiter.Stats()
		e.stop()

		perWindow := make([]int, 5)
		done := 0
		for _, p := range polls.get() {
			switch {
			case p.err == nil:
				done++
				if i := int(p.answer.Sub(t0) / window); i < len(perWindow) {
					perWindow[i]++
				}
			case p.answer.Before(t0.Add(5*window + time.Second)): // not ended by the engine's stop
				t.Errorf("poll of %s failed: %v", p.id, p.err)
			}
		}
		appended := writes.get() - created
		var oldest time.Duration
		for _, b := range st.Buckets {
			oldest = max(oldest, b.Lanes[budget.LaneBackground].OldestWait)
		}
		t.Logf("%d polls over 5 windows of %v, by window %v; %d store writes (%.2f a poll); background queue %d, oldest wait %v",
			done, window, perWindow, appended, float64(appended)/float64(done), st.Buckets[0].Lanes[budget.LaneBackground].Waiting, oldest)
		for i, n := range perWindow {
			if n < limit.N*95/100 {
				t.Errorf("window %d: %d polls, want the budget's %d spent", i, n, limit.N)
			}
		}
		if appended > done {
			t.Errorf("%d store writes for %d polls, want at most one a poll", appended, done)
		}
		if n, msg := logs.atLeast(slog.LevelWarn); n > 0 {
			t.Errorf("%d records at warn level or above, the first %q", n, msg)
		}
		if bound := time.Duration(math.Ceil(float64(tasks)/float64(limit.N))) * window; oldest > bound {
			t.Errorf("an unwatched poll has waited %v, more than the bound %v", oldest, bound)
		}
	})
}

// TestWatchedWhileQueued: 30 tasks share a poll limit of 1/1s, so each poll waits some 30s in
// the budget's queue. A task that gains its first watcher while its poll waits there is
// polled within two slots, not at its turn among the unwatched.
func TestWatchedWhileQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		limit := budget.Limit{N: 1, Per: time.Second}
		window := limit.Per + budget.DefaultMargin(limit)
		e := newEnv(t, fiberfake.Config{Seed: 29, PeoplePerSecond: 0.01, Limits: fiberfake.Limits{
			Start: fiberfake.Rate{N: 1 << 20, Per: time.Minute},
			Poll:  fiberfake.Rate{N: limit.N, Per: limit.Per},
		}})
		_, polls := saturate(e, limit, 2*time.Second, Policy{MinInterval: 100 * time.Millisecond, MaxInterval: 200 * time.Millisecond}, slog.New(newLevelCounter()))
		var ids []string
		for range 30 {
			ids = append(ids, e.start(10))
		}
		time.Sleep(45 * time.Second) // every task polled once, and queued again
		id := ids[len(ids)/2]
		lastBefore := time.Time{}
		for _, p := range polls.get() {
			if p.id == id {
				lastBefore = p.answer
			}
		}
		watched := time.Now()
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		go e.engine.Watch(ctx, "alice", id, "", 0, true, func(Update) error { return nil })
		time.Sleep(5 * window)
		var next time.Time
		for _, p := range polls.get() {
			if p.id == id && p.answer.After(watched) {
				next = p.answer
				break
			}
		}
		if next.IsZero() || next.Sub(watched) > 2*window {
			t.Errorf("the task gained a watcher %v after its last poll and was not polled in the next two slots", watched.Sub(lastBefore))
		} else {
			t.Logf("task last polled %v before the watch began; polled again %v after", watched.Sub(lastBefore), next.Sub(watched))
		}
		stop()
	})
}
