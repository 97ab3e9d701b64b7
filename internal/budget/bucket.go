package budget

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/fibergate/fibergate/internal/fiber"
)

// bucketKey names a bucket: one API key (by id) at one endpoint.
type bucketKey struct {
	keyID string
	ep    fiber.Endpoint
}

// bucket is the budget of one key at one endpoint: its departure log, its 429 pause and its
// queue of waiters. Every field is guarded by the Limiter's mutex.
type bucket struct {
	key    bucketKey
	limit  Limit
	window time.Duration // limit.Per plus the margin
	base   time.Duration // first backoff after a 429 without Retry-After
	cap    time.Duration // largest such backoff

	log departures

	pausedUntil time.Time   // no slot is granted before it (a 429 pause)
	streak      int         // 429 pauses in a row, for the backoff
	claim       urgentClaim // with a Ledger: the record's urgent claim, in the ledger's clock

	// lanes hold the waiters of the urgent and normal lanes: lanes[urgentLane] are served
	// before lanes[normalLane], each round-robin across its callers; backlog holds the
	// background lane, which gets the slot after priorityRun in a row to the others (run).
	lanes     [2]lane
	backlog   backlog
	run       int       // slots in a row granted to the urgent and normal lanes while the backlog waited
	waiting   int       // waiters queued, over all lanes and callers
	pending   int       // waiters granted a slot that have not yet picked it up
	busySince time.Time // since when waiters have been queued without a break; zero when none is

	timer    *time.Timer // fires when the next slot frees up; nil when none is armed
	timerAt  time.Time   // when timer fires
	timerGen uint64      // tells a stale timer's call from the current one

	sh *shared // with a Ledger; nil without

	counters Counters
}

// The round-robin lanes of a bucket, indexes of bucket.lanes.
const (
	urgentLane = LaneUrgent // Waits with WithUrgent: served first
	normalLane = LaneNormal
)

// lane is one class of waiters: a queue per caller, served round-robin.
type lane struct {
	queues  map[string]*callerQueue // callers with waiters, by name
	ring    []*callerQueue          // the same callers in round-robin order
	next    int                     // index in ring of the caller served next
	waiting int                     // waiters queued in the lane
}

// callerQueue is one caller's waiters in a lane, in arrival order.
type callerQueue struct {
	name    string
	lane    *lane
	waiters []*waiter
}

// waiter is one Wait call in a queue.
type waiter struct {
	ready    chan struct{} // closed when the slot is granted
	lane     Lane
	queue    *callerQueue // its caller's queue in the urgent or normal lane; nil in the background lane
	since    time.Time    // in the background lane: its place (WithBackground)
	enqueued time.Time
	granted  bool      // guarded by the Limiter's mutex
	at       time.Time // when the slot was granted; guarded by the Limiter's mutex

	// With a Ledger (all guarded by the Limiter's mutex):
	err     error     // the ledger failed: the Wait fails with it (ready is closed)
	booked  time.Time // when the ledger booked the slot, by its clock
	free    bool      // the view had a slot free when the Wait came
	refused uint64    // the bucket's shared.refused when the Wait came
	atOnce  bool      // free, and granted by the first booking that followed
}

// slotTime returns when the slot of the waiter with p waiters ahead of it would be granted,
// seen from now. Slots come in the order of the departure log: the j-th future departure may
// leave once the departure N before it is window old, and not during a 429 pause. A departure
// still in flight counts as leaving now (see departures.gate), so the slot it gates moves when
// its answer comes. With the log padded at its old end to N entries L_0..L_N-1 (missing ones
// count as long gone), slot p = q*N + r leaves at max(start, L_r + window) + q*window, start
// being now or the end of the pause.
func (b *bucket) slotTime(now time.Time, p int) time.Time {
	start := now
	if b.pausedUntil.After(start) {
		start = b.pausedUntil
	}
	n := b.limit.N
	q, r := p/n, p%n
	t := start
	if missing := n - b.log.len(); r >= missing {
		if free := b.log.gate(r-missing, now).at.Add(b.window); free.After(t) {
			t = free
		}
	}
	return t.Add(time.Duration(q) * b.window)
}

// grantFree grants a slot at now, when one is free and nobody is queued for it, and reports
// whether it did.
func (b *bucket) grantFree(now time.Time) bool {
	if b.waiting > 0 || b.slotTime(now, 0).After(now) {
		return false
	}
	b.log.push(now)
	b.counters.Grants++
	return true
}

// ahead returns how many waiters would be served before a new waiter of caller in lane li,
// of since in the background lane: in the normal lane every urgent waiter comes first, then
// its own lane's share (see lane.ahead); in the background lane those ahead of it by since;
// and the slots the lanes share (see interleaved and priorityBefore).
func (b *bucket) ahead(caller string, li Lane, since time.Time) int {
	switch li {
	case LaneBackground:
		k := b.backlog.after(since)
		return k + b.priorityBefore(k)
	case normalLane:
		p := b.lanes[urgentLane].waiting + b.lanes[normalLane].ahead(caller)
		return p + b.interleaved(p)
	}
	p := b.lanes[urgentLane].ahead(caller)
	return p + b.interleaved(p)
}

// ahead returns how many waiters of the lane would be served before a new waiter of caller.
// A new caller joins at the end of the current round; see before for a caller with waiters.
func (l *lane) ahead(caller string) int {
	cq := l.queues[caller]
	if cq == nil {
		return len(l.ring)
	}
	return l.before(cq, len(cq.waiters))
}

// before returns how many waiters of the lane would be served before the k-th waiter (from 0)
// of caller queue cq. Rounds visit the callers in ring order from next; each caller gets one
// slot per round. The k-th waiter is served in round k, after its caller's k before it and,
// from every other caller X, min(len X, k) in the earlier rounds plus one more when X still
// has a waiter in round k and comes before it in that round.
func (l *lane) before(cq *callerQueue, k int) int {
	n := len(l.ring)
	offset := func(i int) int { return (i - l.next + n) % n }
	own := offset(slices.Index(l.ring, cq))
	total := k
	for i, x := range l.ring {
		if x == cq {
			continue
		}
		lx := len(x.waiters)
		total += min(lx, k)
		if lx > k && offset(i) < own {
			total++
		}
	}
	return total
}

// enqueue queues a new waiter of caller in lane li, of since in the background lane.
func (b *bucket) enqueue(caller string, li Lane, since, now time.Time) *waiter {
	w := &waiter{ready: make(chan struct{}), lane: li, since: since, enqueued: now}
	b.place(w, caller)
	return w
}

// place queues w, which is in no queue, in its lane, as a waiter of caller in the urgent and
// normal lanes.
func (b *bucket) place(w *waiter, caller string) {
	if b.waiting == 0 {
		b.busySince = w.enqueued
	}
	b.waiting++
	if w.lane == LaneBackground {
		b.backlog.insert(w)
		return
	}
	l := &b.lanes[w.lane]
	cq := l.queues[caller]
	if cq == nil {
		if l.queues == nil {
			l.queues = make(map[string]*callerQueue)
		}
		cq = &callerQueue{name: caller, lane: l}
		l.queues[caller] = cq
		// Join at the end of the current round, just before the caller served next.
		l.ring = slices.Insert(l.ring, l.next, cq)
		if len(l.ring) > 1 {
			l.next++
		}
	}
	w.queue = cq
	cq.waiters = append(cq.waiters, w)
	l.waiting++
}

// promote moves the queued waiter w of caller to the urgent lane, as a new urgent waiter of
// caller, keeping the time it queued.
func (b *bucket) promote(w *waiter, caller string) {
	if w.lane == urgentLane {
		return
	}
	busy := b.busySince
	b.remove(w)
	w.lane, w.queue = urgentLane, nil
	b.place(w, caller)
	b.busySince = busy
}

// position returns how many waiters would be served before the queued waiter w.
func (b *bucket) position(w *waiter) int {
	if w.lane == LaneBackground {
		k := b.backlog.index(w)
		return k + b.priorityBefore(k)
	}
	l := w.queue.lane
	n := l.before(w.queue, slices.Index(w.queue.waiters, w))
	if w.lane == normalLane {
		n += b.lanes[urgentLane].waiting
	}
	return n + b.interleaved(n)
}

// grantNext grants a slot at now to the waiter whose turn it is (see next), and logs its
// departure.
func (b *bucket) grantNext(now time.Time) {
	w := b.next()
	w.granted, w.at = true, now
	b.log.push(now)
	close(w.ready)
}

// next takes out of its queue the waiter whose turn it is, and counts it as pending: the head
// of the background lane when backgroundNext says so, else the head waiter of the caller whose
// turn it is in the urgent lane if it has waiters, else in the normal one. There must be a
// waiter.
func (b *bucket) next() *waiter {
	if b.backgroundNext() {
		b.run = 0
		w := b.backlog.pop()
		b.dequeued()
		return w
	}
	if b.backlog.len() > 0 {
		b.run++
	} else {
		b.run = 0
	}
	l := &b.lanes[urgentLane]
	if l.waiting == 0 {
		l = &b.lanes[normalLane]
	}
	cq := l.ring[l.next]
	w := cq.waiters[0]
	cq.waiters[0] = nil
	cq.waiters = cq.waiters[1:]
	if len(cq.waiters) == 0 {
		l.dropQueue(l.next)
	} else {
		l.next = (l.next + 1) % len(l.ring)
	}
	l.waiting--
	b.dequeued()
	return w
}

// dequeued counts a waiter taken out of its queue for a grant as pending.
func (b *bucket) dequeued() {
	b.waiting--
	b.pending++
	if b.waiting == 0 {
		b.busySince = time.Time{}
	}
}

// remove takes a waiter that was not granted out of its queue.
func (b *bucket) remove(w *waiter) {
	if w.lane == LaneBackground {
		if i := b.backlog.index(w); i >= 0 {
			b.backlog.waiters = slices.Delete(b.backlog.waiters, i, i+1)
			b.waiting--
		}
	} else {
		cq := w.queue
		l := cq.lane
		if i := slices.Index(cq.waiters, w); i >= 0 {
			cq.waiters = slices.Delete(cq.waiters, i, i+1)
			l.waiting--
			b.waiting--
		}
		if len(cq.waiters) == 0 {
			if i := slices.Index(l.ring, cq); i >= 0 {
				l.dropQueue(i)
			}
		}
	}
	if b.waiting == 0 {
		b.busySince = time.Time{}
	}
}

// callers returns how many callers have waiters in the urgent and normal lanes.
func (b *bucket) callers() int { return len(b.lanes[urgentLane].ring) + len(b.lanes[normalLane].ring) }

// dropQueue removes the empty queue at ring index i, keeping next on the same caller (or on
// the one after the removed caller).
func (l *lane) dropQueue(i int) {
	delete(l.queues, l.ring[i].name)
	l.ring = slices.Delete(l.ring, i, i+1)
	if i < l.next {
		l.next--
	}
	if l.next >= len(l.ring) {
		l.next = 0
	}
}

// giveBack undoes the grant of a waiter that did not use its slot: its departure leaves the log.
// When the grant filled the log it pushed out an entry that was already out of the window, so
// the log stays exact. With a Ledger, the ledger's log is told in the next transaction.
func (b *bucket) giveBack(w *waiter) {
	if b.sh != nil {
		b.sh.reports = append(b.sh.reports, report{kind: reportGiveBack, at: w.booked})
		return
	}
	b.log.giveBack(w.at)
}

// failAll ends every queued waiter with err, and returns how many there were.
func (b *bucket) failAll(err error) int {
	n := b.waiting
	for li := range b.lanes {
		l := &b.lanes[li]
		for _, cq := range l.ring {
			for _, w := range cq.waiters {
				w.err = err
				close(w.ready)
			}
		}
		b.lanes[li] = lane{}
	}
	for _, w := range b.backlog.waiters {
		w.err = err
		close(w.ready)
	}
	b.backlog = backlog{}
	b.waiting, b.busySince = 0, time.Time{}
	return n
}

// pause handles a 429 at now: the bucket grants nothing until the returned time. A 429 that
// arrives during a pause answers a request sent before it, so it only extends the pause to a
// longer Retry-After; otherwise the streak grows, unless a whole window passed since the last
// pause ended, and without Retry-After the pause is the backoff of the streak.
func (b *bucket) pause(now time.Time, retryAfter time.Duration) time.Time {
	if now.Before(b.pausedUntil) {
		if until := now.Add(retryAfter); until.After(b.pausedUntil) {
			b.pausedUntil = until
		}
		return b.pausedUntil
	}
	if now.Sub(b.pausedUntil) > b.window {
		b.streak = 0
	}
	b.streak++
	d := retryAfter
	if d <= 0 {
		d = backoff(b.base, b.cap, b.streak)
	}
	b.pausedUntil = now.Add(d)
	return b.pausedUntil
}

// backoff returns the pause after the n-th 429 in a row: base doubled n-1 times, capped, with
// "equal jitter": a uniform draw from its upper half, so that the buckets of several processes
// sharing a key drift apart while each still waits at least half the step.
func backoff(base, limit time.Duration, n int) time.Duration {
	d := limit
	if n-1 < 62 && base <= limit>>(n-1) {
		d = base << (n - 1)
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// idle reports whether the bucket can be forgotten at now without changing any outcome: no
// waiter, no slot in hand, no request in flight, no departure within the window and no pause
// within the last window. With a Ledger, whose record keeps the window: no waiter, no slot in
// hand, nothing left to tell the ledger and no urgent claim of its own in it.
func (b *bucket) idle(now time.Time) bool {
	if b.sh != nil {
		// The window is the ledger's: only what is local matters.
		return b.waiting == 0 && b.pending == 0 && !b.sh.running && len(b.sh.reports) == 0 && !b.sh.claimed && b.timer == nil
	}
	return b.waiting == 0 && b.pending == 0 && b.log.inFlight == 0 &&
		now.Sub(b.log.last()) >= b.window && now.Sub(b.pausedUntil) > b.window
}
