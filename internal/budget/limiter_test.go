package budget_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
)

// Most tests run in a synctest bubble: its clock is virtual, timers fire in order as soon as
// every goroutine is blocked, and synctest.Wait tells when the waiters are queued. time.Sleep
// there only moves the virtual clock; it synchronises nothing.

// TestSlidingWindow checks the window exactly: N slots at once on a fresh bucket, then the
// (N+1)-th departure no earlier than the first + Per + margin, and not a nanosecond later.
func TestSlidingWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		lim := mustLimit(t, "3/1s")
		w := lim.Per + budget.DefaultMargin(lim) // 1.02s
		l := newLimiter(t, budget.Config{Limits: budget.Limits{Poll: lim}})
		t0 := time.Now()
		for i := range 3 {
			if err := l.Wait(ctx, testKey, fiber.EndpointPoll); err != nil {
				t.Fatalf("wait %d: %v", i, err)
			}
		}
		if d := time.Since(t0); d != 0 {
			t.Fatalf("the first 3 slots took %v, want none: a fresh bucket must not waste its window", d)
		}
		out := make(chan outcome, 2)
		waitAsync(ctx, l, testKey, fiber.EndpointPoll, "a", "4th", out)
		synctest.Wait()
		waitAsync(ctx, l, testKey, fiber.EndpointPoll, "a", "5th", out)
		synctest.Wait()
		if st := bucketStats(l, testKey, fiber.EndpointPoll); st.Waiting != 2 || st.InWindow != 3 || st.NextSlot != w {
			t.Fatalf("stats = %+v, want 2 waiting, 3 in window, next slot in %v", st, w)
		}
		time.Sleep(w - time.Nanosecond)
		synctest.Wait()
		select {
		case o := <-out:
			t.Fatalf("%s granted at +%v, before the window ended at +%v", o.id, o.at.Sub(t0), w)
		default:
		}
		got := map[string]bool{}
		for range 2 {
			o := <-out
			if o.err != nil || o.at.Sub(t0) != w {
				t.Fatalf("%s granted at +%v (err %v), want +%v", o.id, o.at.Sub(t0), o.err, w)
			}
			got[o.id] = true
		}
		if !got["4th"] || !got["5th"] {
			t.Fatalf("granted %v, want 4th and 5th", got)
		}
	})
}

// TestOneTimerPerBucket: a bucket with queued waiters keeps one timer armed and grants nothing
// before the window ends; an idle bucket keeps no timer armed.
func TestOneTimerPerBucket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		lim := mustLimit(t, "2/1s")
		w := lim.Per + budget.DefaultMargin(lim)
		l := newLimiter(t, budget.Config{Limits: budget.Limits{Cancel: lim}})
		for range 2 {
			if err := l.Wait(ctx, testKey, fiber.EndpointCancel); err != nil {
				t.Fatal(err)
			}
		}
		out := make(chan outcome, 3)
		for _, id := range []string{"x", "y", "z"} {
			waitAsync(ctx, l, testKey, fiber.EndpointCancel, id, id, out)
			synctest.Wait()
		}
		if n := l.ArmedTimers(); n != 1 {
			t.Fatalf("%d timers armed, want 1 for the bucket", n)
		}
		time.Sleep(w - time.Millisecond)
		synctest.Wait()
		if len(out) != 0 {
			t.Fatalf("%d granted before the window ended", len(out))
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if len(out) != 2 {
			t.Fatalf("%d granted at the end of the window, want 2", len(out))
		}
		for range 3 {
			if o := <-out; o.err != nil {
				t.Fatal(o.err)
			}
		}
		st := bucketStats(l, testKey, fiber.EndpointCancel)
		if st.Queued != 3 || st.WaitMax != 2*w || st.WaitTotal != 4*w {
			t.Errorf("stats = %+v, want 3 queued, longest wait %v, total %v", st, 2*w, 4*w)
		}
		if n := l.ArmedTimers(); n != 0 {
			t.Errorf("%d timers armed on an idle bucket", n)
		}
	})
}

// TestNeverOverruns drives a bucket with random arrivals and checks the departures against
// the model: no N+1 departures within Per+margin, and no slot left unused while a waiter was
// queued.
func TestNeverOverruns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		lim := mustLimit(t, "5/1s")
		w := lim.Per + budget.DefaultMargin(lim)
		l := newLimiter(t, budget.Config{Limits: budget.Limits{Start: lim}})
		rng := rand.New(rand.NewPCG(1, 2))
		const calls = 200
		out := make(chan outcome, calls)
		arrivals := make([]time.Time, 0, calls)
		for i := range calls {
			time.Sleep(time.Duration(rng.Int64N(int64(400 * time.Millisecond))))
			arrivals = append(arrivals, time.Now())
			waitAsync(ctx, l, testKey, fiber.EndpointStart, fmt.Sprint("c", i%3), fmt.Sprint(i), out)
		}
		var grants []time.Time
		for range calls {
			o := <-out
			if o.err != nil {
				t.Fatal(o.err)
			}
			grants = append(grants, o.at)
		}
		// Outcomes may be received slightly out of order within one instant; sort.
		sortTimes(grants)
		for i := lim.N; i < len(grants); i++ {
			if gap := grants[i].Sub(grants[i-lim.N]); gap < w {
				t.Fatalf("departures %d and %d are %v apart, want at least %v", i-lim.N, i, gap, w)
			}
		}
		// Work conservation: each grant happens at the earliest moment the model allows,
		// given that the i-th request arrived at arrivals[i] (FIFO within the bucket's
		// totals: the i-th grant needs i+1 arrivals).
		sortTimes(arrivals)
		for i, g := range grants {
			earliest := arrivals[i]
			if i >= lim.N {
				earliest = later(earliest, grants[i-lim.N].Add(w))
			}
			if !g.Equal(earliest) {
				t.Fatalf("grant %d at %v, want %v: a slot was left unused", i, g.Sub(arrivals[0]), earliest.Sub(arrivals[0]))
			}
		}
		span := grants[len(grants)-1].Sub(grants[0])
		t.Logf("%d grants over %v under %v", calls, span, lim)
	})
}

func sortTimes(ts []time.Time) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].Before(ts[j-1]); j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func TestBucketsAreSeparate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		l := newLimiter(t, budget.Config{Limits: budget.Limits{Start: mustLimit(t, "1/1m"), Poll: mustLimit(t, "1/1m"), Cancel: mustLimit(t, "1/1m")}})
		t0 := time.Now()
		for _, key := range []string{"a", "b"} {
			for _, ep := range []fiber.Endpoint{fiber.EndpointStart, fiber.EndpointPoll, fiber.EndpointCancel} {
				if err := l.Wait(ctx, key, ep); err != nil {
					t.Fatal(err)
				}
			}
		}
		if d := time.Since(t0); d != 0 {
			t.Errorf("six buckets took %v for their first slot, want 0", d)
		}
		if n := len(l.Stats().Buckets); n != 6 {
			t.Errorf("%d buckets, want 6", n)
		}
		if err := l.Wait(ctx, "a", "delete"); err == nil {
			t.Error("Wait on an unknown endpoint succeeded")
		}
	})
}

// TestCancelledWaiterConsumesNothing: a waiter whose context ends leaves the queue, and the
// waiter behind it gets the slot it would have had.
func TestCancelledWaiterConsumesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		lim := mustLimit(t, "1/1s")
		w := lim.Per + budget.DefaultMargin(lim)
		l := newLimiter(t, budget.Config{Limits: budget.Limits{Start: lim}})
		t0 := time.Now()
		if err := l.Wait(ctx, testKey, fiber.EndpointStart); err != nil {
			t.Fatal(err)
		}
		out := make(chan outcome, 3)
		// This one's deadline is exactly when its slot comes: the grant and the end of its
		// context race, and whichever wins, the slot must not be lost.
		dctx, dcancel := context.WithDeadline(ctx, t0.Add(w))
		defer dcancel()
		waitAsync(dctx, l, testKey, fiber.EndpointStart, "b", "deadline", out)
		synctest.Wait()
		cctx, cancel := context.WithCancel(ctx)
		waitAsync(cctx, l, testKey, fiber.EndpointStart, "a", "cancelled", out)
		synctest.Wait()
		waitAsync(ctx, l, testKey, fiber.EndpointStart, "a", "next", out)
		synctest.Wait()

		cancel()
		o := <-out
		if o.id != "cancelled" || !errors.Is(o.err, context.Canceled) || o.at != t0 {
			t.Fatalf("got %+v, want the cancelled waiter to end at once with context.Canceled", o)
		}
		if st := bucketStats(l, testKey, fiber.EndpointStart); st.Waiting != 2 || st.Abandoned != 1 || st.InWindow != 1 {
			t.Fatalf("stats after cancel: %+v", st)
		}
		// At t0+w the timer grants "deadline" its slot, but its context may end first at that
		// same instant. If it used the slot, "next" has the following one at t0+2w; if not,
		// "next" has it at t0+w.
		byID := map[string]outcome{}
		for range 2 {
			o := <-out
			byID[o.id] = o
		}
		d, n := byID["deadline"], byID["next"]
		want := t0.Add(w)
		switch {
		case d.err == nil && d.at == t0.Add(w):
			want = t0.Add(2 * w)
		case errors.Is(d.err, context.DeadlineExceeded):
		default:
			t.Fatalf("deadline waiter: %v at +%v", d.err, d.at.Sub(t0))
		}
		if n.err != nil || n.at != want {
			t.Fatalf("next waiter got %v at +%v, want a slot at +%v", n.err, n.at.Sub(t0), want.Sub(t0))
		}
		t.Logf("deadline waiter: %v; next granted at +%v", d.err, n.at.Sub(t0))
	})
}

// TestFailFast: a Wait whose slot cannot come before its deadline, or within MaxWait, fails at
// once with the expected delay and is not queued.
func TestFailFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := mustLimit(t, "2/1m")
		w := lim.Per + budget.DefaultMargin(lim) // 60.6s
		l := newLimiter(t, budget.Config{Limits: budget.Limits{Start: lim}, MaxWait: 90 * time.Second})
		t0 := time.Now()
		// The waits here run for minutes of the bubble's time.
		long, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		out := make(chan outcome, 5)
		for i := range 4 { // 2 granted now, 2 queued for t0+w
			waitAsync(long, l, testKey, fiber.EndpointStart, "a", fmt.Sprint(i), out)
			synctest.Wait()
		}

		// Caller b would be served right after a's first waiter, at t0+w = 60.6s: beyond a 30s
		// deadline.
		short, cancelShort := context.WithTimeout(long, 30*time.Second)
		defer cancelShort()
		err := l.Wait(budget.WithCaller(short, "b"), testKey, fiber.EndpointStart)
		var we *budget.WaitError
		if !errors.As(err, &we) {
			t.Fatalf("got %v, want a *WaitError", err)
		}
		want := budget.WaitError{KeyID: testKey, Endpoint: fiber.EndpointStart, Limit: lim, RetryAfter: w, Ahead: 1, Allowed: 30 * time.Second}
		if *we != want {
			t.Errorf("WaitError = %+v\nwant        %+v", *we, want)
		}
		if time.Since(t0) != 0 {
			t.Error("the fast failure waited")
		}
		t.Logf("error: %v", err)

		// Without a deadline, MaxWait (90s) bounds it: a's third would come at t0+2w.
		err = l.Wait(budget.WithCaller(long, "a"), testKey, fiber.EndpointStart)
		if !errors.As(err, &we) || !we.MaxWait || we.Allowed != 90*time.Second || we.RetryAfter != 2*w || we.Ahead != 2 {
			t.Errorf("got %+v, want a *WaitError bounded by MaxWait", err)
		}
		st := bucketStats(l, testKey, fiber.EndpointStart)
		if st.FastFails != 2 || st.Waiting != 2 || st.Grants != 2 {
			t.Errorf("stats = %+v, want 2 fast fails, 2 waiting, 2 grants", st)
		}

		// A deadline that fits is queued and served: b at t0+w, after a's first, which pushes
		// a's second to t0+2w.
		fits, cancelFits := context.WithTimeout(long, w+time.Millisecond)
		defer cancelFits()
		waitAsync(fits, l, testKey, fiber.EndpointStart, "b", "fits", out)
		for range 5 {
			if o := <-out; o.err != nil {
				t.Errorf("%s: %v", o.id, o.err)
			} else if o.id == "fits" && o.at.Sub(t0) != w {
				t.Errorf("b granted at +%v, want +%v", o.at.Sub(t0), w)
			}
		}
		if d := time.Since(t0); d != 2*w {
			t.Errorf("last grant at +%v, want +%v", d, 2*w)
		}
	})
}

// TestPenaltyPausesTheBucket: after a 429 every waiter of the key and endpoint waits out the
// pause, queued or new; other buckets do not.
func TestPenaltyPausesTheBucket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		rec := &logRecorder{}
		l := newLimiter(t, budget.Config{Limits: budget.Limits{Poll: mustLimit(t, "100/1s")}, Logger: slog.New(rec)})
		t0 := time.Now()
		l.Penalize(testKey, fiber.EndpointPoll, 3*time.Second)
		out := make(chan outcome, 3)
		waitAsync(ctx, l, testKey, fiber.EndpointPoll, "a", "a", out)
		waitAsync(ctx, l, testKey, fiber.EndpointPoll, "b", "b", out)
		synctest.Wait()
		if err := l.Wait(ctx, "other-key", fiber.EndpointPoll); err != nil || time.Since(t0) != 0 {
			t.Fatalf("another key waited or failed: %v", err)
		}
		if err := l.Wait(ctx, testKey, fiber.EndpointCancel); err != nil || time.Since(t0) != 0 {
			t.Fatalf("another endpoint waited or failed: %v", err)
		}
		time.Sleep(time.Second)
		// A 429 to a request sent before the pause does not lengthen it with a backoff.
		l.Penalize(testKey, fiber.EndpointPoll, 0)
		waitAsync(ctx, l, testKey, fiber.EndpointPoll, "c", "c", out)
		for range 3 {
			o := <-out
			if o.err != nil || o.at.Sub(t0) != 3*time.Second {
				t.Errorf("%s: %v at +%v, want a slot at +3s", o.id, o.err, o.at.Sub(t0))
			}
		}
		st := bucketStats(l, testKey, fiber.EndpointPoll)
		if st.Penalties != 2 || st.Queued != 3 || st.WaitMax != 3*time.Second {
			t.Errorf("stats = %+v", st)
		}
		attrs, ok := rec.find(slog.LevelWarn, "fiber rate limit hit: pausing the bucket")
		if !ok || attrs["key_id"] != testKey || attrs["endpoint"] != "poll" || attrs["paused_for"] != "3s" {
			t.Errorf("warn record = %v, %v", attrs, ok)
		}
		if _, ok := rec.find(slog.LevelDebug, "fiber budget: waiting for a slot"); !ok {
			t.Error("no debug record for a wait")
		}
	})
}

// TestBackoffWithoutRetryAfter: consecutive 429s without Retry-After pause for Base, 2*Base,
// 4*Base... capped, each drawn from the upper half; a quiet window resets the streak.
func TestBackoffWithoutRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := mustLimit(t, "10/1s")
		l := newLimiter(t, budget.Config{Limits: budget.Limits{Start: lim}, Backoff: budget.Backoff{Base: 100 * time.Millisecond, Cap: 400 * time.Millisecond}})
		steps := []time.Duration{100, 200, 400, 400, 400}
		for i, step := range steps {
			step *= time.Millisecond
			l.Penalize(testKey, fiber.EndpointStart, 0)
			p := bucketStats(l, testKey, fiber.EndpointStart).Paused
			if p < step/2 || p > step {
				t.Errorf("429 #%d: paused %v, want within [%v, %v]", i+1, p, step/2, step)
			}
			time.Sleep(p) // the pause ends; the next 429 comes right after
		}
		time.Sleep(lim.Per + budget.DefaultMargin(lim) + time.Millisecond)
		l.Penalize(testKey, fiber.EndpointStart, 0)
		if p := bucketStats(l, testKey, fiber.EndpointStart).Paused; p > 100*time.Millisecond {
			t.Errorf("after a quiet window: paused %v, want the first step again", p)
		}

		// The defaults scale with the limit: one slot interval, capped at one window.
		d := newLimiter(t, budget.Config{Limits: budget.Limits{Start: mustLimit(t, "30/6s")}})
		d.Penalize(testKey, fiber.EndpointStart, 0)
		if p := bucketStats(d, testKey, fiber.EndpointStart).Paused; p < 100*time.Millisecond || p > 200*time.Millisecond {
			t.Errorf("default first pause for 30/6s = %v, want within [100ms, 200ms]", p)
		}
	})
}

// TestForgetIdleBuckets: a bucket idle for a window is forgotten; its counters stay in the
// totals.
func TestForgetIdleBuckets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		l := newLimiter(t, budget.Config{Limits: budget.Limits{Start: mustLimit(t, "2/1s"), Poll: mustLimit(t, "2/1s"), Cancel: mustLimit(t, "2/1s")}})
		for _, key := range []string{"a", "b", "c"} {
			if err := l.Wait(ctx, key, fiber.EndpointPoll); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(5 * time.Second)
		if err := l.Wait(ctx, "d", fiber.EndpointPoll); err != nil {
			t.Fatal(err)
		}
		st := l.Stats()
		if len(st.Buckets) != 1 || st.Buckets[0].KeyID != "d" {
			t.Errorf("buckets = %+v, want only d's", st.Buckets)
		}
		if got := st.Totals[fiber.EndpointPoll].Grants; got != 4 {
			t.Errorf("poll grants in totals = %d, want 4", got)
		}
	})
}

func TestCaller(t *testing.T) {
	ctx := testContext(t)
	if got := budget.Caller(ctx); got != "" {
		t.Errorf("Caller of a bare context = %q", got)
	}
	ctx = budget.WithCaller(ctx, "billing")
	if got := budget.Caller(ctx); got != "billing" {
		t.Errorf("Caller = %q, want billing", got)
	}
	if got := budget.Caller(budget.WithCaller(ctx, "crm")); got != "crm" {
		t.Errorf("Caller after a second WithCaller = %q, want crm", got)
	}
}
