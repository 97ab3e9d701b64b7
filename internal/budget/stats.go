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
	// Callers is how many distinct callers have waiters in the urgent and normal lanes (the
	// background lane does not queue by caller).
	Callers int
	// Lanes are the bucket's queues, indexed by Lane.
	Lanes [numLanes]LaneStats
	// Backlogged is how long Waits have been queued in the bucket without a break: since its
	// queue was last empty. 0 when none is queued.
	Backlogged time.Duration
	// InWindow counts the departures within the last window (Per plus margin).
	InWindow int
	// NextSlot is how long until a slot is free; 0 when one is free now.
	NextSlot time.Duration
	// Paused is what remains of a 429 pause; 0 when there is none.
	Paused time.Duration
	Counters
}

// LaneStats is the state of one lane of a bucket.
type LaneStats struct {
	// Waiting is how many Waits the lane holds.
	Waiting int
	// OldestWait is how long the Wait queued longest in the lane has been queued; 0 when the
	// lane is empty.
	OldestWait time.Duration
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
			KeyID:      k.keyID,
			Endpoint:   k.ep,
			Limit:      b.limit,
			Waiting:    b.waiting,
			Callers:    b.callers(),
			Lanes:      b.laneStats(now),
			Backlogged: b.backlogged(now),
			InWindow:   b.log.since(b.viewNow(now).Add(-b.window)),
			NextSlot:   max(b.slotAt(now, 0).Sub(now), 0),
			Paused:     max(b.pausedUntil.Sub(b.viewNow(now)), 0),
			Counters:   b.counters,
		})
	}
	slices.SortFunc(out.Buckets, func(a, b BucketStats) int {
		return cmp.Or(cmp.Compare(a.KeyID, b.KeyID), cmp.Compare(a.Endpoint, b.Endpoint))
	})
	return out
}

// laneStats returns the depth and the oldest wait of each lane of b at now.
func (b *bucket) laneStats(now time.Time) [numLanes]LaneStats {
	var out [numLanes]LaneStats
	oldest := func(li Lane, w *waiter) {
		out[li].Waiting++
		out[li].OldestWait = max(out[li].OldestWait, now.Sub(w.enqueued))
	}
	for li := range b.lanes {
		for _, cq := range b.lanes[li].ring {
			if len(cq.waiters) > 0 {
				oldest(Lane(li), cq.waiters[0]) // each caller's queue is in arrival order
				out[li].Waiting += len(cq.waiters) - 1
			}
		}
	}
	for _, w := range b.backlog.waiters {
		oldest(LaneBackground, w)
	}
	return out
}

// backlogged returns how long waiters have been queued in b without a break at now, or 0.
func (b *bucket) backlogged(now time.Time) time.Duration {
	if b.busySince.IsZero() {
		return 0
	}
	return now.Sub(b.busySince)
}
