package budget

import (
	"slices"
	"time"
)

// Lane names a class of the Waits queued in a bucket.
type Lane uint8

// The lanes, in the order they are served: a bucket grants a slot to its urgent lane first,
// then its normal lane, then its background lane, except that the background lane is granted
// at least one slot in priorityRun+1 while it has waiters (see the package documentation).
const (
	// LaneUrgent holds the Waits marked WithUrgent, round-robin across callers.
	LaneUrgent Lane = iota
	// LaneNormal holds the Waits with neither mark (callers' own requests), round-robin
	// across callers.
	LaneNormal
	// LaneBackground holds the Waits marked WithBackground only, the oldest since first.
	LaneBackground
	numLanes = 3
)

// String returns the lane's name: urgent, normal or background.
func (l Lane) String() string {
	switch l {
	case LaneUrgent:
		return "urgent"
	case LaneNormal:
		return "normal"
	case LaneBackground:
		return "background"
	}
	return "unknown"
}

// Lanes lists every Lane, in the order they are served.
var Lanes = [numLanes]Lane{LaneUrgent, LaneNormal, LaneBackground}

// priorityRun is how many slots in a row the urgent and normal lanes may take while the
// background lane has waiters: the next one goes to the background lane. The background lane
// so gets at least one slot in four while it waits, and the others at most three in four;
// when they want less, the background lane has the rest.
const priorityRun = 3

// backlog is the background lane of a bucket: its waiters ordered by since, the oldest first,
// and in arrival order among equal ones. Every field is guarded by the Limiter's mutex.
type backlog struct {
	waiters []*waiter
}

// len returns how many waiters the lane holds.
func (q *backlog) len() int { return len(q.waiters) }

// after returns the index at which a waiter of since goes: after every waiter whose since is
// not later.
func (q *backlog) after(since time.Time) int {
	i, _ := slices.BinarySearchFunc(q.waiters, since, func(w *waiter, t time.Time) int {
		if w.since.After(t) {
			return 1
		}
		return -1 // equal ones stay ahead: arrival order
	})
	return i
}

// insert queues w in its place.
func (q *backlog) insert(w *waiter) {
	q.waiters = slices.Insert(q.waiters, q.after(w.since), w)
}

// pop takes the head waiter out of the lane, which must not be empty.
func (q *backlog) pop() *waiter {
	w := q.waiters[0]
	q.waiters[0] = nil
	q.waiters = q.waiters[1:]
	if len(q.waiters) == 0 {
		q.waiters = nil // let the array go
	}
	return w
}

// index returns where w stands in the lane, or -1.
func (q *backlog) index(w *waiter) int {
	// Waiters of the same since are few: search from the first of them.
	for i := q.after(w.since.Add(-1)); i < len(q.waiters) && !q.waiters[i].since.After(w.since); i++ {
		if q.waiters[i] == w {
			return i
		}
	}
	return -1
}

// priorityWaiting returns how many waiters the urgent and normal lanes hold.
func (b *bucket) priorityWaiting() int {
	return b.lanes[urgentLane].waiting + b.lanes[normalLane].waiting
}

// backgroundNext reports whether the next slot goes to the background lane: it has waiters,
// and the other lanes have none or have had priorityRun slots in a row while it waited.
func (b *bucket) backgroundNext() bool {
	return b.backlog.len() > 0 && (b.priorityWaiting() == 0 || b.run >= priorityRun)
}

// interleaved returns how many background waiters are served before the waiter that will
// have p waiters of the urgent and normal lanes ahead of it: one after every priorityRun
// slots of those lanes, counting the run already made, and no more than the lane holds.
func (b *bucket) interleaved(p int) int {
	return min(b.backlog.len(), (b.run+p)/priorityRun)
}

// priorityBefore returns how many waiters of the urgent and normal lanes are served before a
// background waiter with k background waiters ahead of it: what remains of the current run,
// then priorityRun after each of the k, and no more than those lanes hold.
func (b *bucket) priorityBefore(k int) int {
	return min(b.priorityWaiting(), max(priorityRun-b.run, 0)+k*priorityRun)
}
