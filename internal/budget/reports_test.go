package budget_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
)

// TestReportsMoveTheDeparture: a departure counts from its answer once Done reports it (the
// answer is an upper bound of the arrival at Fiber); a request written but not yet answered
// holds back every slot that depends on it, however long it takes.
func TestReportsMoveTheDeparture(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		lim := mustLimit(t, "2/1s")
		w := lim.Per + budget.DefaultMargin(lim)
		l := newLimiter(t, budget.Config{Limits: budget.Limits{Start: lim}})
		t0 := time.Now()
		for range 2 {
			if err := l.Wait(ctx, testKey, fiber.EndpointStart); err != nil {
				t.Fatal(err)
			}
		}
		// The first request is written at 100ms and answered at 150ms, the second written at
		// 300ms and answered at 400ms.
		time.Sleep(100 * time.Millisecond)
		l.Sent(testKey, fiber.EndpointStart)
		time.Sleep(50 * time.Millisecond)
		l.Done(testKey, fiber.EndpointStart)
		time.Sleep(150 * time.Millisecond)
		l.Sent(testKey, fiber.EndpointStart)
		time.Sleep(100 * time.Millisecond)
		l.Done(testKey, fiber.EndpointStart)
		out := make(chan outcome, 2)
		waitAsync(ctx, l, testKey, fiber.EndpointStart, "a", "a", out)
		waitAsync(ctx, l, testKey, fiber.EndpointStart, "b", "b", out)
		got := []time.Duration{(<-out).at.Sub(t0), (<-out).at.Sub(t0)}
		slices.Sort(got)
		if want := []time.Duration{150*time.Millisecond + w, 400*time.Millisecond + w}; !slices.Equal(got, want) {
			t.Errorf("next slots at %v, want %v: one window after each answer", got, want)
		}

		// a and b are written at once; one is answered 10ms later, the other hangs. The slot
		// after the answered one (c) comes a window after its answer. c is written and hangs
		// too: with both requests of the window in flight, the next slot (d) waits for an
		// answer, however long it takes, and comes a window after it.
		t1 := time.Now()
		l.Sent(testKey, fiber.EndpointStart)
		l.Sent(testKey, fiber.EndpointStart)
		time.Sleep(10 * time.Millisecond)
		l.Done(testKey, fiber.EndpointStart)
		waitAsync(ctx, l, testKey, fiber.EndpointStart, "a", "c", out)
		if o := <-out; o.err != nil || o.at.Sub(t1) != 10*time.Millisecond+w {
			t.Fatalf("c granted at +%v (err %v), want +%v", o.at.Sub(t1), o.err, 10*time.Millisecond+w)
		}
		l.Sent(testKey, fiber.EndpointStart)
		waitAsync(ctx, l, testKey, fiber.EndpointStart, "a", "d", out)
		time.Sleep(3 * w)
		synctest.Wait()
		if len(out) > 0 {
			o := <-out
			t.Fatalf("d granted at +%v while both requests of its window were in flight", o.at.Sub(t1))
		}
		if st := bucketStats(l, testKey, fiber.EndpointStart); st.Waiting != 1 {
			t.Fatalf("stats %+v, want d waiting", st)
		}
		l.Done(testKey, fiber.EndpointStart)
		answeredAt := time.Since(t1)
		if o := <-out; o.err != nil || o.at.Sub(t1) != answeredAt+w {
			t.Errorf("d granted at +%v (err %v), want one window after the late answer, +%v", o.at.Sub(t1), o.err, answeredAt+w)
		}
		for range 2 {
			l.Done(testKey, fiber.EndpointStart) // the other hung request and d end
		}

		// Long after, a Sent whose grant left the window is logged as a departure of its own,
		// in flight until its Done.
		time.Sleep(5 * time.Second)
		l.Sent(testKey, fiber.EndpointStart)
		if st := bucketStats(l, testKey, fiber.EndpointStart); st.InWindow != 1 {
			t.Errorf("in window after a late Sent: %d, want 1", st.InWindow)
		}
		l.Done(testKey, fiber.EndpointStart)
		l.Sent(testKey, "delete") // ignored
		l.Done(testKey, "delete") // ignored
	})
}

// TestSendReserve: with a send reserve, a queued Wait counts its deadline that much earlier,
// and a slot that comes too close to the deadline (a 429 pause pushed it) is handed on rather
// than granted; a slot free at once is granted whatever the deadline.
func TestSendReserve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := mustLimit(t, "1/1s")
		w := lim.Per + budget.DefaultMargin(lim) // 1.02s
		const reserve = 300 * time.Millisecond
		l := newLimiter(t, budget.Config{Limits: budget.Limits{Start: lim}, SendReserve: reserve})
		bg := context.Background()

		tiny, cancelTiny := context.WithTimeout(bg, 100*time.Millisecond)
		defer cancelTiny()
		if err := l.Wait(tiny, testKey, fiber.EndpointStart); err != nil {
			t.Fatalf("a free slot with 100ms left: %v, want it granted", err)
		}
		t0 := time.Now()

		// The next slot comes at w = 1.02s: a 1.2s deadline leaves less than the reserve.
		d12, cancel12 := context.WithTimeout(bg, 1200*time.Millisecond)
		defer cancel12()
		var we *budget.WaitError
		if err := l.Wait(d12, testKey, fiber.EndpointStart); !errors.As(err, &we) || we.RetryAfter != w || we.Allowed != 1200*time.Millisecond-reserve {
			t.Fatalf("1.2s deadline: %v, want a *WaitError expecting %v with %v allowed", err, w, 1200*time.Millisecond-reserve)
		}
		if time.Since(t0) != 0 {
			t.Fatal("the fast failure waited")
		}

		// A 1.5s deadline fits (0.48s left at the slot), so it queues; then a 429 pauses the
		// bucket until 1.4s, which would leave it 0.1s: the slot is handed on.
		d15, cancel15 := context.WithTimeout(bg, 1500*time.Millisecond)
		defer cancel15()
		out := make(chan outcome, 1)
		waitAsync(d15, l, testKey, fiber.EndpointStart, "a", "late", out)
		synctest.Wait()
		time.Sleep(time.Second)
		l.Penalize(testKey, fiber.EndpointStart, 400*time.Millisecond)
		o := <-out
		if !errors.As(o.err, &we) || o.at.Sub(t0) != 1400*time.Millisecond || we.Allowed != 100*time.Millisecond {
			t.Fatalf("queued Wait: %v at +%v, want a *WaitError at +1.4s with 100ms left", o.err, o.at.Sub(t0))
		}
		if err := l.Wait(bg, testKey, fiber.EndpointStart); err != nil || time.Since(t0) != 1400*time.Millisecond {
			t.Errorf("the handed-on slot: %v at +%v, want it at once (+1.4s)", err, time.Since(t0))
		}
		if st := bucketStats(l, testKey, fiber.EndpointStart); st.Grants != 2 || st.FastFails != 2 {
			t.Errorf("stats %+v, want 2 grants and 2 fast failures", st)
		}
	})
}
