package budget_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
)

// probe asks where a new waiter of caller would stand, without queueing it: a Wait whose
// deadline cannot be met fails at once with the estimate.
func probe(t *testing.T, ctx context.Context, l *budget.Limiter, caller string) *budget.WaitError {
	t.Helper()
	pctx, cancel := context.WithTimeout(budget.WithCaller(ctx, caller), time.Nanosecond)
	defer cancel()
	var we *budget.WaitError
	if err := l.Wait(pctx, testKey, fiber.EndpointStart); !errors.As(err, &we) {
		t.Fatalf("probe for %s: %v, want a *WaitError", caller, err)
	}
	return we
}

// fullBucket returns a context for a long test and a Limiter whose start bucket of limit lim
// has its window full, so that every new Wait must queue. Call it in a synctest bubble.
func fullBucket(t *testing.T, lim budget.Limit) (context.Context, *budget.Limiter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 24*time.Hour)
	t.Cleanup(cancel)
	l := newLimiter(t, budget.Config{Limits: budget.Limits{Start: lim}})
	for range lim.N {
		if err := l.Wait(ctx, testKey, fiber.EndpointStart); err != nil {
			t.Fatal(err)
		}
	}
	return ctx, l
}

// TestRoundRobin: one slot per window, callers a (4 waiters), b (2) and c (1) queued in that
// order: they are served a b c a b a a, each new caller joining at the end of the round, and
// each waiter's estimate on arrival is its true place.
func TestRoundRobin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		lim := mustLimit(t, "1/1s")
		w := lim.Per + budget.DefaultMargin(lim)
		l := newLimiter(t, budget.Config{Limits: budget.Limits{Start: lim}})
		t0 := time.Now()
		if err := l.Wait(ctx, testKey, fiber.EndpointStart); err != nil {
			t.Fatal(err)
		}
		out := make(chan outcome, 7)
		ahead := map[string]int{}
		for i, caller := range strings.Split("aaaabbc", "") {
			id := fmt.Sprint(caller, i)
			we := probe(t, ctx, l, caller)
			if we.RetryAfter != time.Duration(we.Ahead+1)*w {
				t.Errorf("%s: estimate %v for %d ahead, want %v", id, we.RetryAfter, we.Ahead, time.Duration(we.Ahead+1)*w)
			}
			ahead[id] = we.Ahead
			waitAsync(ctx, l, testKey, fiber.EndpointStart, caller, id, out)
			synctest.Wait()
		}
		if st := bucketStats(l, testKey, fiber.EndpointStart); st.Waiting != 7 || st.Callers != 3 {
			t.Fatalf("stats = %+v, want 7 waiting from 3 callers", st)
		}
		var order []string
		for range 7 {
			o := <-out
			if o.err != nil {
				t.Fatal(o.err)
			}
			if want := t0.Add(time.Duration(len(order)+1) * w); o.at != want {
				t.Errorf("%s granted at +%v, want +%v", o.id, o.at.Sub(t0), want.Sub(t0))
			}
			order = append(order, o.id)
		}
		want := []string{"a0", "b4", "c6", "a1", "b5", "a2", "a3"}
		if !slices.Equal(order, want) {
			t.Errorf("grant order %v, want %v", order, want)
		}
		// On arrival c6 was third (2 ahead), b4 second: estimates made when they came.
		for _, id := range []string{"a0", "b4", "c6"} {
			if got, want := ahead[id], slices.Index(want, id); got != want {
				t.Errorf("%s estimated %d ahead, was served with %d ahead", id, got, want)
			}
		}
	})
}

// TestNoisyCallerCannotStarve: a caller with 1000 waiters delays another caller's request by
// one round at most.
func TestNoisyCallerCannotStarve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		lim := mustLimit(t, "10/1s")
		w := lim.Per + budget.DefaultMargin(lim)
		l := newLimiter(t, budget.Config{Limits: budget.Limits{Start: lim}})
		t0 := time.Now()
		const noisy = 1000
		out := make(chan outcome, noisy+1)
		for i := range noisy {
			waitAsync(ctx, l, testKey, fiber.EndpointStart, "noisy", fmt.Sprint("n", i), out)
		}
		synctest.Wait()
		if we := probe(t, ctx, l, "quiet"); we.Ahead != 1 || we.RetryAfter != w {
			t.Errorf("quiet caller estimate: %d ahead, %v; want 1 ahead, %v", we.Ahead, we.RetryAfter, w)
		}
		waitAsync(ctx, l, testKey, fiber.EndpointStart, "quiet", "quiet", out)
		granted, abandoned := 0, 0
		for range noisy + 1 {
			o := <-out
			switch {
			case o.id == "quiet":
				if o.err != nil || o.at.Sub(t0) != w {
					t.Errorf("quiet caller got %v at +%v, want a slot at +%v", o.err, o.at.Sub(t0), w)
				}
				cancel() // the noisy ones give up
			case o.err == nil:
				granted++
			case errors.Is(o.err, context.Canceled):
				abandoned++
			default:
				t.Errorf("%s: %v", o.id, o.err)
			}
		}
		// 10 at once, then at +w one more before the quiet one; 8 more are granted at the
		// same instant but may see the cancellation first and give their slot back.
		if granted < 11 || granted > 19 || granted+abandoned != noisy {
			t.Errorf("noisy caller: %d granted, %d abandoned; want 11 to 19 granted, the rest abandoned", granted, abandoned)
		}
		t.Logf("noisy caller: %d granted, %d abandoned", granted, abandoned)
	})
}

// TestFairnessInvariant: random callers queue random numbers of waiters at once; at every point
// of the grant order, two callers that both still wait differ by at most one grant, and every
// waiter is served no earlier than estimated on arrival (later callers may take their turn
// ahead of it) and the last one exactly then.
func TestFairnessInvariant(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 7))
				ctx, l := fullBucket(t, budget.Limit{N: 1 + rng.IntN(4), Per: time.Second})
				time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond) // less than the window
				n := 10 + rng.IntN(40)
				out := make(chan outcome, n)
				est := map[string]time.Time{}
				left := map[string]int{}
				var last string
				for i := range n {
					caller := fmt.Sprint("c", rng.IntN(5))
					id := fmt.Sprint(caller, "/", i)
					est[id] = time.Now().Add(probe(t, ctx, l, caller).RetryAfter)
					left[caller]++
					last = id
					waitAsync(ctx, l, testKey, fiber.EndpointStart, caller, id, out)
					synctest.Wait()
				}
				// With N > 1 several grants share an instant and arrive in any order, so
				// check fairness per instant: all of an instant's grants, then the invariant.
				got := map[string]int{}
				var pendingAt time.Time
				var batch []outcome
				check := func() {
					for _, o := range batch {
						caller, _, _ := strings.Cut(o.id, "/")
						got[caller]++
						left[caller]--
					}
					lo, hi := 1<<30, 0
					for c, k := range got {
						if left[c] > 0 {
							lo, hi = min(lo, k), max(hi, k)
						}
					}
					if hi-lo > 1 {
						t.Fatalf("at +%v grants per waiting caller %v (left %v): unfair", pendingAt, got, left)
					}
					batch = batch[:0]
				}
				for range n {
					o := <-out
					if o.err != nil {
						t.Fatal(o.err)
					}
					if o.at.Before(est[o.id]) {
						t.Errorf("%s granted %v before its estimate", o.id, est[o.id].Sub(o.at))
					}
					if o.id == last && !o.at.Equal(est[o.id]) {
						t.Errorf("last waiter %s granted at %v, estimated %v", o.id, o.at, est[o.id])
					}
					if !o.at.Equal(pendingAt) && len(batch) > 0 {
						check()
					}
					pendingAt = o.at
					batch = append(batch, o)
				}
				check()
			})
		})
	}
}

// TestUrgentLaneInvariant: with waiters marked urgent at random among unmarked ones, all
// queued before any slot frees, every urgent waiter is granted before every unmarked one, and
// none is granted before the estimate its probe gave when it arrived.
func TestUrgentLaneInvariant(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 11))
				ctx, l := fullBucket(t, budget.Limit{N: 1 + rng.IntN(3), Per: time.Second})
				n := 10 + rng.IntN(30)
				out := make(chan outcome, n)
				est := map[string]time.Time{}
				urgent := map[string]bool{}
				for i := range n {
					caller := fmt.Sprint("c", rng.IntN(4))
					wctx := ctx
					if rng.IntN(3) == 0 {
						wctx = budget.WithUrgent(ctx)
					}
					id := fmt.Sprint(caller, "/", i)
					urgent[id] = budget.Urgent(wctx)
					est[id] = time.Now().Add(probe(t, wctx, l, caller).RetryAfter)
					waitAsync(wctx, l, testKey, fiber.EndpointStart, caller, id, out)
					synctest.Wait()
				}
				var lastUrgent, firstNormal time.Time
				for range n {
					o := <-out
					if o.err != nil {
						t.Fatal(o.err)
					}
					if o.at.Before(est[o.id]) {
						t.Errorf("%s granted %v before its estimate", o.id, est[o.id].Sub(o.at))
					}
					if urgent[o.id] {
						lastUrgent = later(lastUrgent, o.at)
					} else if firstNormal.IsZero() || o.at.Before(firstNormal) {
						firstNormal = o.at
					}
				}
				if !lastUrgent.IsZero() && !firstNormal.IsZero() && firstNormal.Before(lastUrgent) {
					t.Errorf("an unmarked waiter was granted at %v, before the last urgent one at %v", firstNormal, lastUrgent)
				}
			})
		})
	}
}

// TestUrgentWaitsGoFirst: Waits marked WithUrgent are served before every unmarked Wait of the
// bucket, whatever their arrival, round-robin among their own callers; their fail-fast
// estimate counts only the urgent ones ahead, an unmarked one counts them all.
func TestUrgentWaitsGoFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		lim := mustLimit(t, "1/1s")
		w := lim.Per + budget.DefaultMargin(lim)
		l := newLimiter(t, budget.Config{Limits: budget.Limits{Poll: lim}})
		if err := l.Wait(ctx, testKey, fiber.EndpointPoll); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		out := make(chan outcome, 6)
		for i := range 3 {
			waitAsync(ctx, l, testKey, fiber.EndpointPoll, "batch", fmt.Sprint("n", i), out)
			synctest.Wait()
		}
		urgent := budget.WithUrgent(ctx)
		for _, id := range []string{"x0", "x1"} {
			waitAsync(urgent, l, testKey, fiber.EndpointPoll, "watched-x", id, out)
			synctest.Wait()
		}
		waitAsync(urgent, l, testKey, fiber.EndpointPoll, "watched-y", "y0", out)
		synctest.Wait()

		// A new caller joins at the end of the current round. With 3 urgent waiters of 2
		// callers and 3 unmarked of 1 queued, a new urgent caller has 2 ahead (one round of
		// its lane), a new unmarked one 4 (every urgent waiter, then one round of its lane).
		var we *budget.WaitError
		short, cancel := context.WithTimeout(ctx, 2*w)
		defer cancel()
		if err := l.Wait(budget.WithCaller(budget.WithUrgent(short), "watched-z"), testKey, fiber.EndpointPoll); !errors.As(err, &we) || we.Ahead != 2 {
			t.Errorf("urgent estimate: %v, want a WaitError with 2 ahead", err)
		}
		if err := l.Wait(budget.WithCaller(short, "other"), testKey, fiber.EndpointPoll); !errors.As(err, &we) || we.Ahead != 4 {
			t.Errorf("unmarked estimate: %v, want a WaitError with 4 ahead", err)
		}

		var order []string
		for range 6 {
			o := <-out
			if o.err != nil {
				t.Fatal(o.err)
			}
			order = append(order, fmt.Sprintf("%s@%d", o.id, int(o.at.Sub(t0)/w)))
		}
		// Urgent first, round-robin between watched-x and watched-y (y joined the round
		// before x's second), then the batch in order; one slot a window.
		want := []string{"x0@1", "y0@2", "x1@3", "n0@4", "n1@5", "n2@6"}
		if !slices.Equal(order, want) {
			t.Errorf("grant order %v, want %v", order, want)
		}
	})
}
