package fiberfake

import (
	"math"
	"time"
)

// enrichment is the set of requested contact types.
type enrichment struct {
	work, personal, phone bool
}

// price is the credits charged per unique accepted person. Fiber documents
// all three types at 5, work email only at 2, personal email only at 2 and
// phone only at 3. The simulator extends that as 2 per email type plus 3 for
// phones, capped at 5: work+personal costs 4, any email type with phones 5.
func (e enrichment) price() float64 {
	p := 0.0
	if e.work {
		p += 2
	}
	if e.personal {
		p += 2
	}
	if e.phone {
		p += 3
	}
	return min(p, 5)
}

// task is one started batch. Its progress is not stored but computed from the
// time: person i (0-based) completes at startedAt + (i+1)/PeoplePerSecond.
// Sim's mutex guards every field that changes after start.
type task struct {
	id         string
	apiKey     string
	types      enrichment
	price      float64 // per person
	people     []person
	rejected   int
	duplicates int
	startedAt  time.Time
	charged    float64

	canceled bool
	frozen   int     // people completed when the task was canceled
	settled  int     // people[:settled] have had their refunds applied
	refunded float64 // credits given back so far, by cancel or for misses
}

// completed returns how many people have completed by now.
func (t *task) completed(now time.Time, pps float64) int {
	if t.canceled {
		return t.frozen
	}
	n := len(t.people)
	if math.IsInf(pps, 1) {
		return n
	}
	elapsed := now.Sub(t.startedAt)
	if elapsed <= 0 {
		return 0
	}
	c := float64(elapsed) * pps / float64(time.Second)
	if c >= float64(n) {
		return n
	}
	return int(c)
}

// stats counts the task's people at now. Canceled people stay in
// numRemaining, so the counts always add up to totalPeopleToFetch.
func (t *task) stats(completed int) overallStats {
	failed := 0
	for _, p := range t.people[:completed] {
		if p.outcome == outcomeFailed {
			failed++
		}
	}
	return overallStats{
		TotalPeopleToFetch: len(t.people),
		NumCompleted:       completed - failed,
		NumFailed:          failed,
		NumRemaining:       len(t.people) - completed,
		NumRejected:        t.rejected,
		NumDuplicates:      t.duplicates,
	}
}

// done reports whether the task has finished, given its completed count.
func (t *task) done(completed int) bool {
	return t.canceled || completed == len(t.people)
}

// failed reports whether a finished task failed as a whole: it was not
// canceled and every one of its people failed.
func (t *task) failed(completed int) bool {
	if !t.done(completed) || t.canceled {
		return false
	}
	for _, p := range t.people {
		if p.outcome != outcomeFailed {
			return false
		}
	}
	return true
}

// settle returns the credits to refund for people completed since the last
// call that were not delivered (no data or failed), and marks them settled.
func (t *task) settle(completed int) float64 {
	if completed <= t.settled {
		return 0
	}
	refund := 0.0
	for _, p := range t.people[t.settled:completed] {
		if p.outcome != outcomeFound {
			refund += t.price
		}
	}
	t.settled = completed
	t.refunded += refund
	return refund
}
