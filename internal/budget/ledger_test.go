package budget_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
)

// memLedger is a budget.Ledger in memory, standing in for PostgreSQL in synctest bubbles: its
// clock runs skew ahead of the process's, an update takes latency before the read and as much
// after the write (the round trips), and while err is set every update fails with it. Create
// it inside the bubble with newMemLedger.
type memLedger struct {
	skew, latency time.Duration

	lock    chan struct{} // held during an update, like a row lock (a channel: synctest sees it block)
	records map[string][]byte
	err     error // guarded by lock
	updates int   // guarded by lock
}

func newMemLedger(skew, latency time.Duration) *memLedger {
	return &memLedger{skew: skew, latency: latency, lock: make(chan struct{}, 1), records: map[string][]byte{}}
}

func (m *memLedger) UpdateWindow(ctx context.Context, keyID, endpoint string, fn func(time.Time, []byte) ([]byte, error)) error {
	time.Sleep(m.latency)
	select {
	case m.lock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() {
		<-m.lock
		time.Sleep(m.latency)
	}()
	m.updates++
	if m.err != nil {
		return m.err
	}
	k := keyID + "/" + endpoint
	out, err := fn(time.Now().Add(m.skew), m.records[k])
	if err != nil {
		return err
	}
	if out != nil {
		m.records[k] = out
	}
	return nil
}

// setErr makes every update fail with err, or none when err is nil.
func (m *memLedger) setErr(err error) {
	m.lock <- struct{}{}
	m.err = err
	<-m.lock
}

// flush waits until l's reports are in its ledger.
func flush(t testing.TB, ctx context.Context, l *budget.Limiter) {
	t.Helper()
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSharedNeverOverruns: three Limiters (three replicas) share one ledger whose clock is an
// hour ahead of theirs, and 90 Waits spread over them, each followed by a request that reaches
// "Fiber" between its Sent and its Done. Every Wait gets a slot, and no window of Per+margin
// holds more than N arrivals.
func TestSharedNeverOverruns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		lim := mustLimit(t, "10/1s")
		w := lim.Per + budget.DefaultMargin(lim)
		ledger := newMemLedger(time.Hour, time.Millisecond)
		var replicas []*budget.Limiter
		for range 3 {
			replicas = append(replicas, newLimiter(t, budget.Config{Limits: budget.Limits{Start: lim}, Ledger: ledger}))
		}
		const calls = 90
		arrivals := make(chan time.Time, calls)
		errs := make(chan error, calls)
		t0 := time.Now()
		for i := range calls {
			l := replicas[i%3]
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			go func() {
				if err := l.Wait(budget.WithCaller(ctx, fmt.Sprint("c", i%5)), testKey, fiber.EndpointStart); err != nil {
					errs <- err
					return
				}
				time.Sleep(time.Millisecond)
				l.Sent(testKey, fiber.EndpointStart)
				time.Sleep(time.Duration(1+rng.IntN(30)) * time.Millisecond)
				arrivals <- time.Now()
				time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
				l.Done(testKey, fiber.EndpointStart)
				errs <- nil
			}()
		}
		for range calls {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		got := make([]time.Time, 0, calls)
		for range calls {
			got = append(got, <-arrivals)
		}
		slices.SortFunc(got, time.Time.Compare)
		for i := lim.N; i < len(got); i++ {
			if gap := got[i].Sub(got[i-lim.N]); gap < w {
				t.Fatalf("arrivals %d and %d are %v apart, want at least %v", i-lim.N, i, gap, w)
			}
		}
		for _, l := range replicas {
			flush(t, ctx, l)
		}
		span := got[len(got)-1].Sub(t0)
		// The pace of the limit alone: 9 bursts of 10, a window apart.
		ideal := time.Duration(calls/lim.N-1) * w
		t.Logf("90 grants over %v (ideal %v, %.3fx), %d ledger updates", span, ideal, span.Seconds()/ideal.Seconds(), ledger.updates)
	})
}

// TestSharedPenaltyPausesEveryReplica: a 429 reported to one replica pauses the bucket for the
// others, and is logged by the replica that reported it.
func TestSharedPenaltyPausesEveryReplica(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		ledger := newMemLedger(-time.Minute, 0)
		rec := &logRecorder{}
		a := newLimiter(t, budget.Config{Limits: budget.Limits{Poll: mustLimit(t, "100/1s")}, Ledger: ledger, Logger: slog.New(rec)})
		b := newLimiter(t, budget.Config{Limits: budget.Limits{Poll: mustLimit(t, "100/1s")}, Ledger: ledger})
		t0 := time.Now()
		a.Penalize(testKey, fiber.EndpointPoll, 3*time.Second)
		flush(t, ctx, a)
		if err := b.Wait(ctx, testKey, fiber.EndpointPoll); err != nil || time.Since(t0) != 3*time.Second {
			t.Fatalf("the other replica: %v at +%v, want a slot at +3s", err, time.Since(t0))
		}
		if err := b.Wait(ctx, "other-key", fiber.EndpointPoll); err != nil || time.Since(t0) != 3*time.Second {
			t.Fatalf("another key waited or failed: %v", err)
		}
		attrs, ok := rec.find(slog.LevelWarn, "fiber rate limit hit: pausing the bucket")
		if !ok || attrs["key_id"] != testKey || attrs["endpoint"] != "poll" || attrs["paused_for"] != "3s" {
			t.Errorf("warn record = %v, %v", attrs, ok)
		}
		if st := bucketStats(a, testKey, fiber.EndpointPoll); st.Penalties != 1 {
			t.Errorf("stats = %+v, want 1 penalty", st)
		}
	})
}

// TestSharedFailFast: a Wait whose slot cannot come in time fails with a *WaitError: at once
// when the replica's view of the window shows it, else when the time it was allowed to queue
// has passed.
func TestSharedFailFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := mustLimit(t, "2/1m")
		w := lim.Per + budget.DefaultMargin(lim) // 60.6s
		ledger := newMemLedger(time.Hour, 0)
		cfg := budget.Config{Limits: budget.Limits{Start: lim}, Ledger: ledger}
		a, b := newLimiter(t, cfg), newLimiter(t, cfg)
		long, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		t0 := time.Now()
		for range 2 {
			if err := a.Wait(long, testKey, fiber.EndpointStart); err != nil {
				t.Fatal(err)
			}
		}
		// b has not seen the window: it queues, learns the next slot is at +w, and fails when
		// its 30s are up.
		short, cancelShort := context.WithTimeout(long, 30*time.Second)
		defer cancelShort()
		err := b.Wait(short, testKey, fiber.EndpointStart)
		var we *budget.WaitError
		if !errors.As(err, &we) || time.Since(t0) != 30*time.Second {
			t.Fatalf("got %v at +%v, want a *WaitError at +30s", err, time.Since(t0))
		}
		want := budget.WaitError{KeyID: testKey, Endpoint: fiber.EndpointStart, Limit: lim, RetryAfter: w - 30*time.Second, Allowed: 30 * time.Second}
		if *we != want {
			t.Errorf("WaitError = %+v\nwant        %+v", *we, want)
		}
		// Now it has: the next one fails at once.
		short2, cancelShort2 := context.WithTimeout(long, 20*time.Second)
		defer cancelShort2()
		t1 := time.Now()
		err = b.Wait(short2, testKey, fiber.EndpointStart)
		if !errors.As(err, &we) || time.Since(t1) != 0 || we.RetryAfter != w-30*time.Second {
			t.Fatalf("got %v after %v, want a *WaitError at once", err, time.Since(t1))
		}
		if st := bucketStats(b, testKey, fiber.EndpointStart); st.FastFails != 2 || st.Waiting != 0 || st.InWindow != 2 || st.NextSlot != w-30*time.Second {
			t.Errorf("stats = %+v", st)
		}
		// A deadline that fits is served at +w.
		if err := b.Wait(long, testKey, fiber.EndpointStart); err != nil || time.Since(t0) != w {
			t.Errorf("got %v at +%v, want a slot at +%v", err, time.Since(t0), w)
		}
	})
}

// TestSharedLedgerFails: while the ledger fails, a Wait fails with its error (nothing is
// granted that the ledger did not book), and reports are kept and applied once it is back.
func TestSharedLedgerFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		lim := mustLimit(t, "1/1s")
		w := lim.Per + budget.DefaultMargin(lim)
		ledger := newMemLedger(0, 0)
		cfg := budget.Config{Limits: budget.Limits{Start: lim}, Ledger: ledger}
		a, b := newLimiter(t, cfg), newLimiter(t, cfg)
		t0 := time.Now()
		if err := a.Wait(ctx, testKey, fiber.EndpointStart); err != nil {
			t.Fatal(err)
		}
		a.Sent(testKey, fiber.EndpointStart)
		flush(t, ctx, a)
		down := errors.New("connection refused")
		ledger.setErr(down)
		time.Sleep(100 * time.Millisecond)
		a.Done(testKey, fiber.EndpointStart) // answered at +100ms; the ledger cannot be told
		if err := b.Wait(ctx, testKey, fiber.EndpointStart); !errors.Is(err, down) {
			t.Fatalf("Wait with the ledger down: %v, want its error", err)
		}
		time.Sleep(200 * time.Millisecond)
		ledger.setErr(nil)
		flush(t, ctx, a)
		told := time.Since(t0)
		// Tried again after 50-100ms, 100-200ms, 200-400ms (jittered backoff): the third retry
		// comes by +700ms.
		if told < 300*time.Millisecond || told > 700*time.Millisecond {
			t.Errorf("the Done reached the ledger at +%v, want it retried once the ledger is back at +300ms", told)
		}
		// The request counts from when the ledger learnt of its answer: later than it came,
		// never earlier.
		if err := b.Wait(ctx, testKey, fiber.EndpointStart); err != nil || time.Since(t0) != told+w {
			t.Errorf("next slot: %v at +%v, want +%v", err, time.Since(t0), told+w)
		}
	})
}

// TestSharedInFlightExpires: a request left in flight by a replica that died (Sent, never
// Done) counts as answered MaxInFlight after it was sent.
func TestSharedInFlightExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		lim := mustLimit(t, "1/1s")
		w := lim.Per + budget.DefaultMargin(lim)
		ledger := newMemLedger(time.Hour, 0)
		cfg := budget.Config{Limits: budget.Limits{Start: lim}, Ledger: ledger, MaxInFlight: 5 * time.Second}
		dead, b := newLimiter(t, cfg), newLimiter(t, cfg)
		t0 := time.Now()
		if err := dead.Wait(ctx, testKey, fiber.EndpointStart); err != nil {
			t.Fatal(err)
		}
		dead.Sent(testKey, fiber.EndpointStart)
		flush(t, ctx, dead)
		if err := b.Wait(ctx, testKey, fiber.EndpointStart); err != nil || time.Since(t0) != 5*time.Second+w {
			t.Errorf("next slot: %v at +%v, want +%v", err, time.Since(t0), 5*time.Second+w)
		}
	})
}

// TestSharedLocalQueue: each replica still serves its own callers round-robin, urgent ones
// first, as slots come free in the shared window.
func TestSharedLocalQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		lim := mustLimit(t, "1/1s")
		ledger := newMemLedger(time.Hour, time.Millisecond)
		l := newLimiter(t, budget.Config{Limits: budget.Limits{Start: lim}, Ledger: ledger})
		if err := l.Wait(ctx, testKey, fiber.EndpointStart); err != nil {
			t.Fatal(err)
		}
		out := make(chan outcome, 6)
		for _, c := range []string{"a", "a", "a", "b", "c"} {
			waitAsync(ctx, l, testKey, fiber.EndpointStart, c, c, out)
			synctest.Wait()
		}
		go func() {
			err := l.Wait(budget.WithUrgent(budget.WithCaller(ctx, "u")), testKey, fiber.EndpointStart)
			out <- outcome{id: "u", err: err, at: time.Now()}
		}()
		var order []string
		var last time.Time
		for range 6 {
			o := <-out
			if o.err != nil {
				t.Fatal(o.err)
			}
			if !o.at.After(last) {
				t.Errorf("%s granted at %v, with or before the one before it", o.id, o.at)
			}
			last = o.at
			order = append(order, o.id)
		}
		if want := []string{"u", "a", "b", "c", "a", "a"}; !slices.Equal(order, want) {
			t.Errorf("served %v, want %v", order, want)
		}
	})
}
