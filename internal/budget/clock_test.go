package budget_test

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
)

// fakeClock is a budget.Clock that moves only when told. AfterFunc callbacks run in Advance,
// in time order, outside the clock's lock.
type fakeClock struct {
	mu     sync.Mutex // guards now and timers
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c    *fakeClock
	at   time.Time
	f    func()
	done bool // fired or stopped; guarded by c.mu
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) budget.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// Advance moves the clock by d and runs the callbacks that have come due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool {
		if t.done {
			return true
		}
		if !t.at.After(c.now) {
			t.done = true
			due = append(due, t)
			return true
		}
		return false
	})
	c.mu.Unlock()
	slices.SortStableFunc(due, func(a, b *fakeTimer) int { return a.at.Compare(b.at) })
	for _, t := range due {
		t.f()
	}
}

// pending counts the timers armed.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.done {
			n++
		}
	}
	return n
}

var _ budget.Clock = (*fakeClock)(nil)

// TestFakeClock drives the Limiter through the Clock seam alone: nothing is granted until the
// fake clock reaches the end of the window, and an idle bucket keeps no timer armed. (The bubble
// only serves synctest.Wait; the Limiter reads the fake clock.)
func TestFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		clk := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
		// Context deadlines are not read from the Clock: keep the expected waits (2w) within
		// testContext's 10s so that nothing fails fast.
		lim := mustLimit(t, "2/1s")
		w := lim.Per + budget.DefaultMargin(lim)
		l := newLimiter(t, budget.Config{Limits: budget.Limits{Cancel: lim}, Clock: clk})
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
		if n := clk.pending(); n != 1 {
			t.Fatalf("%d timers armed, want 1 for the bucket", n)
		}
		clk.Advance(w - time.Millisecond)
		synctest.Wait()
		if len(out) != 0 {
			t.Fatalf("%d granted before the window ended", len(out))
		}
		clk.Advance(time.Millisecond)
		synctest.Wait()
		if len(out) != 2 {
			t.Fatalf("%d granted at the end of the window, want 2", len(out))
		}
		clk.Advance(w)
		for range 3 {
			if o := <-out; o.err != nil {
				t.Fatal(o.err)
			}
		}
		st := bucketStats(l, testKey, fiber.EndpointCancel)
		if st.Queued != 3 || st.WaitMax != 2*w || st.WaitTotal != 4*w {
			t.Errorf("stats = %+v, want 3 queued, longest wait %v, total %v", st, 2*w, 4*w)
		}
		if n := clk.pending(); n != 0 {
			t.Errorf("%d timers armed on an idle bucket", n)
		}
	})
}
