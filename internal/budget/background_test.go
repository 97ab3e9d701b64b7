package budget_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
)

// TestBackgroundLaneOrder: one slot per window, the window full. Background Waits queue by
// since, the oldest first, after the urgent and normal lanes, except that they get the slot
// after three in a row to those lanes; and MaxWait, which refuses a normal Wait expected that
// late, does not bound them.
func TestBackgroundLaneOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		lim := mustLimit(t, "1/1s")
		w := lim.Per + budget.DefaultMargin(lim)
		l := newLimiter(t, budget.Config{Limits: budget.Limits{Start: lim}, MaxWait: 7 * w})
		t0 := time.Now()
		if err := l.Wait(ctx, testKey, fiber.EndpointStart); err != nil {
			t.Fatal(err)
		}
		out := make(chan outcome, 9)
		queue := func(id string, wctx context.Context) {
			go func() {
				err := l.Wait(wctx, testKey, fiber.EndpointStart)
				out <- outcome{id: id, err: err, at: time.Now()}
			}()
			synctest.Wait()
		}
		for _, b := range []struct {
			id  string
			age time.Duration
		}{{"b10", 10 * time.Second}, {"b30", 30 * time.Second}, {"b20", 20 * time.Second}} {
			queue(b.id, budget.WithBackground(ctx, t0.Add(-b.age)))
		}
		for i := range 5 {
			queue(fmt.Sprint("u", i), budget.WithUrgent(budget.WithCaller(ctx, fmt.Sprint("owner", i%2))))
		}
		queue("n", ctx)
		st := bucketStats(l, testKey, fiber.EndpointStart)
		if got := [3]int{st.Lanes[budget.LaneUrgent].Waiting, st.Lanes[budget.LaneNormal].Waiting, st.Lanes[budget.LaneBackground].Waiting}; got != [3]int{5, 1, 3} {
			t.Errorf("lane depths %v, want [5 1 3]", got)
		}
		if st.Waiting != 9 || st.Backlogged != 0 || st.Lanes[budget.LaneBackground].OldestWait != 0 {
			t.Errorf("stats %+v, want 9 waiting, queued just now", st)
		}
		// A normal Wait with eight ahead would wait 9 windows, more than MaxWait allows; a
		// background one queues whatever MaxWait says (and leaves at once: its context ends).
		var we *budget.WaitError
		if err := l.Wait(ctx, testKey, fiber.EndpointStart); !errors.As(err, &we) || !we.MaxWait || we.Ahead != 8 {
			t.Errorf("normal Wait behind 9: %v, want a *WaitError of MaxWait with 8 ahead", err)
		}
		gone, stop := context.WithCancel(ctx)
		go func() { time.Sleep(8 * w); stop() }()
		if err := l.Wait(budget.WithBackground(gone, t0), testKey, fiber.EndpointStart); !errors.Is(err, context.Canceled) {
			t.Errorf("background Wait behind 9: %v, want it queued until its context ended", err)
		}
		if st := bucketStats(l, testKey, fiber.EndpointStart); st.Backlogged != 8*w || st.Lanes[budget.LaneBackground].OldestWait != 8*w {
			t.Errorf("after 8 windows: backlogged %v, background oldest %v; want both %v", st.Backlogged, st.Lanes[budget.LaneBackground].OldestWait, 8*w)
		}

		order, at := serve(t, out, 9)
		want := []string{"u0", "u1", "u2", "b30", "u3", "u4", "n", "b20", "b10"}
		if !slices.Equal(order, want) {
			t.Errorf("grant order %v, want %v", order, want)
		}
		for i, id := range want {
			if at[id] != t0.Add(time.Duration(i+1)*w) {
				t.Errorf("%s granted at +%v, want +%v", id, at[id].Sub(t0), time.Duration(i+1)*w)
			}
		}
		if st := bucketStats(l, testKey, fiber.EndpointStart); st.Backlogged != 0 || st.Waiting != 0 {
			t.Errorf("stats after the queue drained: %+v", st)
		}
	})
}

// TestBackgroundEstimate: a background Wait with a deadline it cannot meet fails at once, with
// its place counted as served: three urgent slots, then it (the share), then the rest.
func TestBackgroundEstimate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, l := fullBucket(t, mustLimit(t, "1/1s"))
		out := make(chan outcome, 5)
		for i := range 5 {
			go func() {
				err := l.Wait(budget.WithUrgent(ctx), testKey, fiber.EndpointStart)
				out <- outcome{id: fmt.Sprint("u", i), err: err}
			}()
		}
		synctest.Wait()
		pctx, cancel := context.WithTimeout(budget.WithBackground(ctx, time.Now()), time.Nanosecond)
		defer cancel()
		var we *budget.WaitError
		if err := l.Wait(pctx, testKey, fiber.EndpointStart); !errors.As(err, &we) || we.Ahead != 3 {
			t.Errorf("background Wait behind 5 urgent ones: %v, want a *WaitError with 3 ahead", err)
		}
		serve(t, out, 5)
	})
}

// TestBackgroundBound runs background pollers, each waiting for its next slot again once it
// had one (after a pause of its own, up to a few windows), against urgent pollers that want
// every slot, for 400 windows of one slot. No background Wait waits longer than the package's
// bound, 4 slots per background poller (each other poller goes first at most once, and the
// urgent lane takes at most three slots in four), nor fails, and the urgent lane gets three
// slots in four; without urgent traffic the bound is one slot per poller.
func TestBackgroundBound(t *testing.T) {
	for _, urgent := range []int{0, 3} {
		t.Run(fmt.Sprint("urgent=", urgent), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const pollers, windows = 12, 400
				lim := budget.Limit{N: 1, Per: 100 * time.Millisecond}
				l := newLimiter(t, budget.Config{Limits: budget.Limits{Poll: lim}, Margin: -1, MaxWait: time.Second})
				ctx, cancel := context.WithCancel(context.Background()) // no deadline: it would bound the Waits
				defer cancel()
				time.AfterFunc(windows*lim.Per, cancel)
				var (
					mu      sync.Mutex // guards the fields below
					longest time.Duration
					grants  [2]int // urgent, background
					failed  error
				)
				var wg sync.WaitGroup
				for i := range pollers {
					wg.Go(func() {
						rng := rand.New(rand.NewPCG(uint64(i), 1))
						last := time.Now().Add(-time.Duration(i) * time.Millisecond)
						for {
							asked := time.Now()
							err := l.Wait(budget.WithBackground(ctx, last), testKey, fiber.EndpointPoll)
							mu.Lock()
							switch {
							case ctx.Err() != nil:
							case err != nil:
								failed = err
							default:
								longest = max(longest, time.Since(asked))
								grants[1]++
							}
							mu.Unlock()
							if ctx.Err() != nil {
								return
							}
							last = time.Now()
							time.Sleep(time.Duration(rng.IntN(4)) * lim.Per)
						}
					})
				}
				for range urgent {
					wg.Go(func() {
						for l.Wait(budget.WithUrgent(ctx), testKey, fiber.EndpointPoll) == nil {
							mu.Lock()
							grants[0]++
							mu.Unlock()
						}
					})
				}
				wg.Wait()
				share := 1
				if urgent > 0 {
					share = 4
				}
				bound := time.Duration(share*pollers) * lim.Per
				t.Logf("%d urgent pollers: %d urgent and %d background grants; longest background wait %v (bound %v)", urgent, grants[0], grants[1], longest, bound)
				if failed != nil {
					t.Errorf("a background Wait failed: %v", failed)
				}
				if longest > bound {
					t.Errorf("a background Wait waited %v, more than the bound %v", longest, bound)
				}
				if total := grants[0] + grants[1]; urgent > 0 && (grants[1] < total/4-1 || grants[0] < 3*total/4-1) {
					t.Errorf("%d urgent and %d background grants, want three urgent ones for each background one", grants[0], grants[1])
				}
			})
		})
	}
}

// TestBackgroundAcrossReplicas: replica A's urgent Waits want every slot, and its claim holds
// replica B's Waits back; B's background Waits still get slots, since a replica held back by
// claims for four slot intervals books a free slot whatever they say: about one in seven, and
// none of B's pollers waits longer than about seven slots per poller.
func TestBackgroundAcrossReplicas(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const windows, pollers = 300, 4
		lim := mustLimit(t, "1/100ms")
		m := newMemLedger(0, time.Millisecond)
		a := newLimiter(t, budget.Config{Limits: budget.Limits{Poll: lim}, Ledger: &replicaLedger{memLedger: m}})
		b := newLimiter(t, budget.Config{Limits: budget.Limits{Poll: lim}, Ledger: &replicaLedger{memLedger: m}})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(windows*lim.Per, cancel)
		var (
			mu      sync.Mutex // guards the fields below
			grants  [2]int     // A's urgent, B's background
			longest time.Duration
			failed  error
		)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for a.Wait(budget.WithUrgent(ctx), testKey, fiber.EndpointPoll) == nil {
					mu.Lock()
					grants[0]++
					mu.Unlock()
				}
			})
		}
		for range pollers {
			wg.Go(func() {
				last := time.Now()
				for {
					asked := time.Now()
					err := b.Wait(budget.WithBackground(ctx, last), testKey, fiber.EndpointPoll)
					if ctx.Err() != nil {
						return
					}
					mu.Lock()
					if err != nil {
						failed = err
					}
					grants[1]++
					longest = max(longest, time.Since(asked))
					mu.Unlock()
					last = time.Now()
				}
			})
		}
		wg.Wait()
		for _, l := range []*budget.Limiter{a, b} {
			if err := l.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("A's urgent grants %d, B's background grants %d, B's longest wait %v", grants[0], grants[1], longest)
		if failed != nil {
			t.Errorf("a background Wait failed: %v", failed)
		}
		total := grants[0] + grants[1]
		if grants[1] < total/8 || grants[0] < total/2 {
			t.Errorf("A's urgent Waits got %d slots and B's background ones %d: want about six to one", grants[0], grants[1])
		}
		// B books a slot about every 4 slot intervals held, plus a few for the claims' timing.
		if bound := time.Duration(pollers) * 12 * lim.Per; longest > bound {
			t.Errorf("a background Wait of B waited %v, more than %v", longest, bound)
		}
	})
}

// TestUrgentOn: a background Wait told that it became urgent while queued moves to the urgent
// lane: it goes before the background Waits queued ahead of it, after the urgent one already
// there, and keeps the time it queued.
func TestUrgentOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, l := fullBucket(t, mustLimit(t, "1/1s"))
		t0 := time.Now()
		out := make(chan outcome, 4)
		queue := func(id string, wctx context.Context) {
			go func() {
				err := l.Wait(wctx, testKey, fiber.EndpointStart)
				out <- outcome{id: id, err: err, at: time.Now()}
			}()
			synctest.Wait()
		}
		kick := make(chan struct{}, 1)
		queue("b1", budget.WithBackground(ctx, t0.Add(-time.Hour)))
		queue("b2", budget.WithBackground(ctx, t0.Add(-time.Minute)))
		queue("kicked", budget.WithUrgentOn(budget.WithBackground(ctx, t0), kick))
		queue("u", budget.WithUrgent(ctx))
		time.Sleep(100 * time.Millisecond)
		kick <- struct{}{}
		synctest.Wait()
		st := bucketStats(l, testKey, fiber.EndpointStart)
		if u := st.Lanes[budget.LaneUrgent]; u.Waiting != 2 || u.OldestWait != 100*time.Millisecond || st.Lanes[budget.LaneBackground].Waiting != 2 {
			t.Errorf("lanes %+v, want 2 urgent (the oldest queued 100ms ago) and 2 background", st.Lanes)
		}
		order, _ := serve(t, out, 4)
		if want := []string{"u", "kicked", "b1", "b2"}; !slices.Equal(order, want) {
			t.Errorf("grant order %v, want %v", order, want)
		}
	})
}
