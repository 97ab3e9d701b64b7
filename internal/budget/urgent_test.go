package budget_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
)

// replicaLedger is one replica's connection to a shared memLedger: each update first takes
// delay more (a slower round trip), and once the replica is killed every update fails, as for a
// process that died without clearing what it left in the record.
type replicaLedger struct {
	*memLedger
	delay time.Duration
	dead  atomic.Bool
}

var errDead = errors.New("replica died")

func (r *replicaLedger) UpdateWindow(ctx context.Context, keyID, endpoint string, fn func(time.Time, []byte) ([]byte, error)) error {
	if r.dead.Load() {
		return errDead
	}
	time.Sleep(r.delay)
	return r.memLedger.UpdateWindow(ctx, keyID, endpoint, fn)
}

// record returns the ledger's record of testKey at ep.
func (m *memLedger) record(ep fiber.Endpoint) []byte {
	m.lock <- struct{}{}
	defer func() { <-m.lock }()
	return slices.Clone(m.records[testKey+"/"+string(ep)])
}

// serve collects n outcomes from out, failing on an error, and returns their ids in the order
// they were granted, with the time of each.
func serve(t *testing.T, out <-chan outcome, n int) ([]string, map[string]time.Time) {
	t.Helper()
	var order []string
	at := map[string]time.Time{}
	for range n {
		o := <-out
		if o.err != nil {
			t.Fatalf("%s: %v", o.id, o.err)
		}
		order = append(order, o.id)
		at[o.id] = o.at
	}
	return order, at
}

// TestSharedUrgentAcrossReplicas: with the window full, replica A has waited longer with
// ordinary Waits and reaches the ledger first, yet the next free slot goes to replica B's
// urgent Wait; A's come after it, and once B has no urgent Wait left no claim remains.
func TestSharedUrgentAcrossReplicas(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		lim := mustLimit(t, "1/1s")
		w := lim.Per + budget.DefaultMargin(lim)
		m := newMemLedger(time.Hour, time.Millisecond)
		ra, rb := &replicaLedger{memLedger: m}, &replicaLedger{memLedger: m, delay: 5 * time.Millisecond}
		a := newLimiter(t, budget.Config{Limits: budget.Limits{Start: lim}, Ledger: ra})
		b := newLimiter(t, budget.Config{Limits: budget.Limits{Start: lim}, Ledger: rb})
		t0 := time.Now()
		if err := a.Wait(ctx, testKey, fiber.EndpointStart); err != nil {
			t.Fatal(err)
		}
		out := make(chan outcome, 3)
		waitAsync(ctx, a, testKey, fiber.EndpointStart, "a", "a1", out)
		synctest.Wait()
		waitAsync(ctx, a, testKey, fiber.EndpointStart, "a", "a2", out)
		time.Sleep(100 * time.Millisecond)
		go func() {
			err := b.Wait(budget.WithUrgent(budget.WithCaller(ctx, "u")), testKey, fiber.EndpointStart)
			out <- outcome{id: "u", err: err, at: time.Now()}
		}()
		order, at := serve(t, out, 3)
		if want := []string{"u", "a1", "a2"}; !slices.Equal(order, want) {
			t.Fatalf("served %v, want %v", order, want)
		}
		// B books when the slot frees up, after its two round trips and its slower connection.
		if got := at["u"].Sub(t0); got < w || got > w+20*time.Millisecond {
			t.Errorf("u granted at +%v, want at +%v and a few round trips", got, w)
		}
		for _, l := range []*budget.Limiter{a, b} {
			flush(t, ctx, l)
		}
		if rec := m.record(fiber.EndpointStart); len(rec) == 0 || rec[0] != 1 {
			t.Errorf("record after the urgent Wait = %x, want format 1 (no claim left)", rec)
		}
	})
}

// TestSharedNoUrgentSameAsBefore: without urgent Waits no claim is ever written, and slots go by
// arrival at the ledger as before: the replica whose transactions reach the record first takes
// each slot that frees up, the other is served once the first has no waiter left.
func TestSharedNoUrgentSameAsBefore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		lim := mustLimit(t, "1/1s")
		w := lim.Per + budget.DefaultMargin(lim)
		m := newMemLedger(time.Hour, time.Millisecond)
		ra, rb := &replicaLedger{memLedger: m}, &replicaLedger{memLedger: m, delay: 5 * time.Millisecond}
		a := newLimiter(t, budget.Config{Limits: budget.Limits{Start: lim}, Ledger: ra})
		b := newLimiter(t, budget.Config{Limits: budget.Limits{Start: lim}, Ledger: rb})
		t0 := time.Now()
		if err := a.Wait(ctx, testKey, fiber.EndpointStart); err != nil {
			t.Fatal(err)
		}
		out := make(chan outcome, 3)
		waitAsync(ctx, a, testKey, fiber.EndpointStart, "a", "a1", out)
		synctest.Wait()
		waitAsync(ctx, a, testKey, fiber.EndpointStart, "a", "a2", out)
		time.Sleep(100 * time.Millisecond)
		waitAsync(ctx, b, testKey, fiber.EndpointStart, "b", "b1", out)
		order, at := serve(t, out, 3)
		if want := []string{"a1", "a2", "b1"}; !slices.Equal(order, want) {
			t.Fatalf("served %v, want %v", order, want)
		}
		if got := at["a1"].Sub(t0); got < w || got > w+10*time.Millisecond {
			t.Errorf("a1 granted at +%v, want at +%v and a round trip", got, w)
		}
		for _, l := range []*budget.Limiter{a, b} {
			flush(t, ctx, l)
		}
		if rec := m.record(fiber.EndpointStart); len(rec) == 0 || rec[0] != 1 {
			t.Errorf("record = %x, want format 1 (no claim)", rec)
		}
	})
}

// TestSharedUrgentAlternation: the urgent Waits of two replicas, whose claims replace each
// other's in the record, all go before a third replica's ordinary Wait that came first.
func TestSharedUrgentAlternation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		lim := mustLimit(t, "1/1s")
		m := newMemLedger(time.Hour, time.Millisecond)
		cfg := func(d time.Duration) budget.Config {
			return budget.Config{Limits: budget.Limits{Start: lim}, Ledger: &replicaLedger{memLedger: m, delay: d}}
		}
		a, b, c := newLimiter(t, cfg(0)), newLimiter(t, cfg(5*time.Millisecond)), newLimiter(t, cfg(0))
		if err := c.Wait(ctx, testKey, fiber.EndpointStart); err != nil {
			t.Fatal(err)
		}
		out := make(chan outcome, 5)
		waitAsync(ctx, c, testKey, fiber.EndpointStart, "c", "c1", out)
		time.Sleep(100 * time.Millisecond)
		urgent := budget.WithUrgent(ctx)
		waitAsync(urgent, a, testKey, fiber.EndpointStart, "a", "a1", out)
		synctest.Wait()
		waitAsync(urgent, a, testKey, fiber.EndpointStart, "a", "a2", out)
		synctest.Wait()
		waitAsync(urgent, b, testKey, fiber.EndpointStart, "b", "b1", out)
		order, _ := serve(t, out, 4)
		if order[3] != "c1" || !slices.Contains(order, "b1") {
			t.Fatalf("served %v, want a1, a2 and b1 (in any order) before c1", order)
		}
	})
}

// TestSharedUrgentClaimExpires: a replica that dies with an urgent Wait queued leaves its claim
// in the record, and it holds the other replica's ordinary Wait back no longer than the hold
// after the slot it waited for.
func TestSharedUrgentClaimExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		lim := mustLimit(t, "1/1s")
		w := lim.Per + budget.DefaultMargin(lim)
		hold := w / time.Duration(lim.N) // one slot interval, the hold for 1/1s
		m := newMemLedger(time.Hour, time.Millisecond)
		ra, rb := &replicaLedger{memLedger: m}, &replicaLedger{memLedger: m}
		a := newLimiter(t, budget.Config{Limits: budget.Limits{Start: lim}, Ledger: ra})
		b := newLimiter(t, budget.Config{Limits: budget.Limits{Start: lim}, Ledger: rb})
		t0 := time.Now()
		if err := a.Wait(ctx, testKey, fiber.EndpointStart); err != nil {
			t.Fatal(err)
		}
		out := make(chan outcome, 2)
		go func() {
			err := b.Wait(budget.WithUrgent(ctx), testKey, fiber.EndpointStart)
			out <- outcome{id: "u", err: err, at: time.Now()}
		}()
		time.Sleep(10 * time.Millisecond) // B has claimed the urgent lane
		if rec := m.record(fiber.EndpointStart); len(rec) == 0 || rec[0] != 2 {
			t.Fatalf("record with B's urgent Wait = %x, want format 2 (a claim)", rec)
		}
		rb.dead.Store(true)
		time.Sleep(100 * time.Millisecond)
		waitAsync(ctx, a, testKey, fiber.EndpointStart, "a", "a1", out)
		var got outcome
		for range 2 {
			if o := <-out; o.id == "u" {
				if !errors.Is(o.err, errDead) {
					t.Errorf("B's urgent Wait: %v, want its ledger's error", o.err)
				}
			} else {
				got = o
			}
		}
		if got.err != nil {
			t.Fatal(got.err)
		}
		if d := got.at.Sub(t0); d <= w || d > w+hold+10*time.Millisecond {
			t.Errorf("a1 granted at +%v, want after +%v and by +%v (the claim's hold) and a round trip", d, w, w+hold)
		}
		flush(t, ctx, a)
		// Back to life, B clears its claim.
		rb.dead.Store(false)
		flush(t, ctx, b)
		if rec := m.record(fiber.EndpointStart); len(rec) == 0 || rec[0] != 1 {
			t.Errorf("record once B is back = %x, want format 1 (no claim left)", rec)
		}
	})
}

// TestSharedUrgentClaimCleared: a replica whose urgent Wait gives up clears its claim at once,
// so the other replica's ordinary Wait gets the next free slot with no hold.
func TestSharedUrgentClaimCleared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testContext(t)
		lim := mustLimit(t, "1/1s")
		w := lim.Per + budget.DefaultMargin(lim)
		m := newMemLedger(time.Hour, time.Millisecond)
		a := newLimiter(t, budget.Config{Limits: budget.Limits{Start: lim}, Ledger: &replicaLedger{memLedger: m}})
		b := newLimiter(t, budget.Config{Limits: budget.Limits{Start: lim}, Ledger: &replicaLedger{memLedger: m}})
		t0 := time.Now()
		if err := a.Wait(ctx, testKey, fiber.EndpointStart); err != nil {
			t.Fatal(err)
		}
		out := make(chan outcome, 2)
		urgent, cancel := context.WithCancel(budget.WithUrgent(ctx))
		defer cancel()
		time.AfterFunc(500*time.Millisecond, cancel)
		go func() {
			err := b.Wait(urgent, testKey, fiber.EndpointStart)
			out <- outcome{id: "u", err: err, at: time.Now()}
		}()
		time.Sleep(10 * time.Millisecond) // B has claimed the urgent lane
		if rec := m.record(fiber.EndpointStart); len(rec) == 0 || rec[0] != 2 {
			t.Fatalf("record with B's urgent Wait = %x, want format 2 (a claim)", rec)
		}
		waitAsync(ctx, a, testKey, fiber.EndpointStart, "a", "a1", out)
		var got outcome
		for range 2 {
			if o := <-out; o.id == "u" {
				if !errors.Is(o.err, context.Canceled) {
					t.Errorf("B's urgent Wait: %v, want context.Canceled", o.err)
				}
			} else {
				got = o
			}
		}
		if got.err != nil {
			t.Fatal(got.err)
		}
		if d := got.at.Sub(t0); d < w || d > w+10*time.Millisecond {
			t.Errorf("a1 granted at +%v, want at +%v and a round trip", d, w)
		}
		flush(t, ctx, b)
		if rec := m.record(fiber.EndpointStart); len(rec) == 0 || rec[0] != 1 {
			t.Errorf("record = %x, want format 1 (no claim left)", rec)
		}
	})
}
