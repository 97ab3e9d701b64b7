package budget

import (
	"cmp"
	"slices"
	"time"

	"github.com/fibergate/fibergate/internal/fiber"
)

// Counters are cumulative counts of a bucket, or of all buckets of an endpoint. They only grow,
// so they can be exported as monotonic counters.
type Counters struct {
	// Grants counts slots granted and used (Wait returned nil).
	Grants uint64
	// Queued counts the grants that had to wait in the queue.
	Queued uint64
	// FastFails counts Waits refused at once with a *WaitError.
	FastFails uint64
	// Abandoned counts Waits whose context ended while queued.
	Abandoned uint64
	// Penalties counts 429s reported by Penalize.
	Penalties uint64
	// WaitTotal is the time the queued grants spent waiting; with Queued it gives the mean.
	WaitTotal time.Duration
	// WaitMax is the longest wait of a queued grant.
	WaitMax time.Duration
}

func (c Counters) add(o Counters) Counters {
	return Counters{
		Grants:    c.Grants + o.Grants,
		Queued:    c.Queued + o.Queued,
		FastFails: c.FastFails + o.FastFails,
		Abandoned: c.Abandoned + o.Abandoned,
		Penalties: c.Penalties + o.Penalties,
		WaitTotal: c.WaitTotal + o.WaitTotal,
		WaitMax:   max(c.WaitMax, o.WaitMax),
	}
}

// BucketStats is the state of one bucket: one API key at one endpoint.
type BucketStats struct {
	// KeyID names the key (fiber.KeyID); the key itself is never kept.
	KeyID    string
	Endpoint fiber.Endpoint
	Limit    Limit
	// Waiting is the queue depth: waiters not yet granted a slot.
	Waiting int
	// Callers is how many distinct callers have waiters.
	Callers int
	// InWindow counts the departures within the last window (Per plus margin).
	InWindow int
	// NextSlot is how long until a slot is free; 0 when one is free now.
	NextSlot time.Duration
	// Paused is what remains of a 429 pause; 0 when there is none.
	Paused time.Duration
	Counters
}

// Stats is a snapshot of a Limiter.
type Stats struct {
	// Buckets lists the buckets in use, ordered by key id and endpoint. A bucket idle for a
	// window may be forgotten (a fresh bucket behaves the same), and then leaves this list.
	Buckets []BucketStats
	// Totals sums the counters of every bucket by endpoint, forgotten ones included.
	Totals map[fiber.Endpoint]Counters
}

// Stats returns a snapshot of every bucket and the totals per endpoint.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	out := Stats{Buckets: make([]BucketStats, 0, len(l.buckets)), Totals: make(map[fiber.Endpoint]Counters, 3)}
	for ep, c := range l.retired {
		out.Totals[ep] = c
	}
	for k, b := range l.buckets {
		out.Totals[k.ep] = out.Totals[k.ep].add(b.counters)
		out.Buckets = append(out.Buckets, BucketStats{
			KeyID:    k.keyID,
			Endpoint: k.ep,
			Limit:    b.limit,
			Waiting:  b.waiting,
			Callers:  b.callers(),
			InWindow: b.log.since(b.viewNow(now).Add(-b.window)),
			NextSlot: max(b.slotAt(now, 0).Sub(now), 0),
			Paused:   max(b.pausedUntil.Sub(b.viewNow(now)), 0),
			Counters: b.counters,
		})
	}
	slices.SortFunc(out.Buckets, func(a, b BucketStats) int {
		return cmp.Or(cmp.Compare(a.KeyID, b.KeyID), cmp.Compare(a.Endpoint, b.Endpoint))
	})
	return out
}
