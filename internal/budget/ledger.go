package budget

import (
	"context"
	"fmt"
	"time"
)

// Ledger keeps the windows of buckets that several Limiters share, such as the replicas of one
// cluster: one record per API key (by id) and endpoint, read and written atomically against
// one clock, the ledger's. internal/storage/postgres implements it on PostgreSQL.
type Ledger interface {
	// UpdateWindow calls fn with the record of keyID at endpoint (nil when there is none yet)
	// and the time by the ledger's clock, read once the record is held, and stores what fn
	// returns, as one atomic step: no other UpdateWindow of the same record, from any process,
	// runs between the read and the write, so fn's calls on one record follow each other in
	// the order of their times. When fn returns nil the record is left as it was; when it
	// returns an error, that error is returned and nothing is stored. fn may be called again
	// if the step is retried; it must not block.
	UpdateWindow(ctx context.Context, keyID, endpoint string, fn func(now time.Time, state []byte) ([]byte, error)) error
}

// ledgerTimeout bounds one transaction on the ledger.
const ledgerTimeout = 5 * time.Second

// Pauses before a report that failed to reach the ledger is tried again: the first, doubled at
// each failure in a row up to the last.
const (
	ledgerRetryBase = 100 * time.Millisecond
	ledgerRetryCap  = 5 * time.Second
)

// DefaultMaxInFlight is Config.MaxInFlight when zero.
const DefaultMaxInFlight = 2 * time.Minute

// urgentClaim is the part of a ledger's record that carries the urgent lane across replicas:
// the Limiter by (its id) has urgent Waits queued, and until then, by the ledger's clock, no
// other Limiter books a slot for a Wait that is not urgent. The claimer renews it in each
// transaction while it has urgent Waits queued and clears it when it has none; a claim whose
// time has passed counts as none, so a replica that dies holds the others back no longer than
// claimHold after the slot it was waiting for. The zero value is no claim.
type urgentClaim struct {
	until time.Time
	by    uint64
}

// claimHold is how long past its urgent head's slot a claim lasts: time for the claimer to
// book that slot (one transaction) with room to spare, and the longest a replica that died
// with urgent Waits queued delays the others' slots: one slot interval (window/N), within
// [minClaimHold, maxClaimHold].
func (b *bucket) claimHold() time.Duration {
	return min(max(b.window/time.Duration(b.limit.N), minClaimHold), maxClaimHold)
}

// Bounds of claimHold.
const (
	minClaimHold = 100 * time.Millisecond
	maxClaimHold = 2 * time.Second
)

// shared is what a bucket of a Limiter with a Ledger keeps besides its queue. The bucket's
// window (log, pausedUntil, streak) is then a view of the ledger's record as of the last
// transaction, in the ledger's clock: it places slots no earlier than the record would (other
// replicas' grants and reports only delay them), so it serves to estimate waits and to time
// the next transaction. Every field is guarded by the Limiter's mutex.
type shared struct {
	offset   time.Duration // the process's clock less the ledger's, as measured by the last transaction
	reports  []report      // reports not yet in the ledger, in order
	running  bool          // a goroutine runs the bucket's transactions (Limiter.sync)
	due      bool          // the timer fired: the next transaction tries to book, whatever the view says
	failures int           // transactions failed in a row
	refused  uint64        // transactions that tried to book and found no free slot
	retryAt  time.Time     // no report-only transaction before it, after a failure

	claimed   bool      // the last transaction left an urgent claim of this Limiter in the record
	heldUntil time.Time // another Limiter's urgent claim, by the ledger's clock, as of the last transaction
	heldSince time.Time // since when another Limiter's claims have held this one's bookings back (see overdue); zero when they do not
}

// report is a change to apply to the ledger's record in the next transaction.
type report struct {
	kind       reportKind
	at         time.Time     // reportGiveBack: the time of the booking, by the ledger's clock
	retryAfter time.Duration // reportPenalty: Fiber's Retry-After, or 0
}

// reportKind tells what a report is.
type reportKind uint8

const (
	reportSent     reportKind = iota // Limiter.Sent
	reportDone                       // Limiter.Done
	reportGiveBack                   // a booked slot was not used
	reportPenalty                    // Limiter.Penalize
)

// txResult is what one transaction on the ledger did.
type txResult struct {
	view   *bucket   // the window after the transaction
	now    time.Time // the ledger's time of the transaction
	booked bool      // a slot was booked at now
	pauses []time.Time

	claimed   bool      // the record holds this Limiter's urgent claim
	heldUntil time.Time // the end of another Limiter's urgent claim in the record; zero when none
	heldBack  bool      // a slot was free, but another Limiter's urgent claim kept it from this one
}

// viewNow returns the time by the ledger's clock at now by the process's, for a bucket of a
// Limiter with a Ledger; now itself otherwise.
func (b *bucket) viewNow(now time.Time) time.Time {
	if b.sh == nil {
		return now
	}
	return now.Add(-b.sh.offset)
}

// slotAt returns when, by the process's clock, the slot of the waiter with p waiters ahead of
// it would be granted (see slotTime), seen from now. With a Ledger it is placed by the view,
// and is no later than the ledger would grant it.
func (b *bucket) slotAt(now time.Time, p int) time.Time {
	if b.sh == nil {
		return b.slotTime(now, p)
	}
	return b.slotTime(now.Add(-b.sh.offset), p).Add(b.sh.offset)
}

// nextAt returns when, by the process's clock, the view says the head waiter of a bucket of a
// Limiter with a Ledger may book its slot: slotAt(now, 0), and not before another Limiter's
// urgent claim ends unless urgent waiters are queued here or the claims have held this
// Limiter back for overdueAfter.
func (b *bucket) nextAt(now time.Time) time.Time {
	t := b.slotAt(now, 0)
	if b.lanes[urgentLane].waiting == 0 {
		held := b.sh.heldUntil.Add(b.sh.offset)
		if !b.sh.heldSince.IsZero() {
			if due := b.sh.heldSince.Add(b.overdueAfter()); due.Before(held) {
				held = due
			}
		}
		if held.After(t) {
			t = held
		}
	}
	return t
}

// overdueAfter is how long other Limiters' urgent claims may hold back the bookings of a
// Limiter with waiters before it books a free slot whatever the claims: priorityRun+1 slot
// intervals (window/N), so that the urgent lanes of the other replicas take about as large a
// share from its waiters as a replica's own urgent lane takes from its background lane.
func (b *bucket) overdueAfter() time.Duration {
	return (priorityRun + 1) * b.window / time.Duration(b.limit.N)
}

// overdue reports whether other Limiters' claims have held this one's bookings back for
// overdueAfter at now.
func (b *bucket) overdue(now time.Time) bool {
	return !b.sh.heldSince.IsZero() && !now.Before(b.sh.heldSince.Add(b.overdueAfter()))
}

// claimStale reports whether the urgent claim the record holds for this Limiter, as of the
// last transaction, no longer matches its queue: urgent waiters and no claim, or the reverse.
func (b *bucket) claimStale() bool {
	return (b.lanes[urgentLane].waiting > 0) != b.sh.claimed
}

// scheduleShared is schedule for a bucket of a Limiter with a Ledger: it starts the bucket's
// transactions when there is something to do now (a waiter whose slot the view says is free,
// a report to apply, an urgent claim to make or clear), else arms the timer for when there
// will be. The caller holds l.mu.
func (l *Limiter) scheduleShared(b *bucket, now time.Time) {
	sh := b.sh
	if sh.running {
		return // sync schedules again when it stops
	}
	var at time.Time
	if b.waiting > 0 {
		at = now
		if !sh.due {
			at = b.nextAt(now)
		}
	}
	if (len(sh.reports) > 0 || b.claimStale()) && (at.IsZero() || sh.retryAt.Before(at)) {
		at = sh.retryAt
		if at.Before(now) {
			at = now
		}
	}
	if at.IsZero() {
		b.stopTimer()
		return
	}
	if !at.After(now) {
		b.stopTimer()
		sh.running = true
		go l.sync(b)
		return
	}
	l.arm(b, now, at)
}

// sync runs the transactions of bucket b on the ledger while there is something to do: each
// applies the reports pending and, when a waiter is queued, books a slot if one is free by the
// ledger's clock, which then goes to the waiter whose turn it is. It runs in a goroutine of its
// own, one per bucket at most (b.sh.running), and ends by scheduling the bucket again.
func (l *Limiter) sync(b *bucket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sh := b.sh
	for {
		now := time.Now()
		book := b.waiting > 0 && (sh.due || !b.nextAt(now).After(now))
		if !book && ((len(sh.reports) == 0 && !b.claimStale()) || now.Before(sh.retryAt)) {
			break
		}
		sh.due = false
		reports := sh.reports
		sh.reports = nil
		urgent := b.lanes[urgentLane].waiting
		toUrgent := urgent > 0 && !b.backgroundNext()
		overdue := b.overdue(now)
		scratch := b.fresh()
		l.mu.Unlock()
		res, err := l.transact(scratch, reports, book, urgent, toUrgent, overdue)
		after := time.Now()
		l.mu.Lock()
		if err != nil {
			l.failed(b, reports, book, err, after)
			continue
		}
		sh.failures, sh.retryAt = 0, time.Time{}
		sh.offset = after.Sub(res.now)
		b.log, b.pausedUntil, b.streak = res.view.log, res.view.pausedUntil, res.view.streak
		sh.claimed, sh.heldUntil = res.claimed, res.heldUntil
		switch {
		case res.booked || b.waiting == 0:
			sh.heldSince = time.Time{}
		case res.heldBack && sh.heldSince.IsZero():
			sh.heldSince = after
		}
		if book && !res.booked {
			sh.refused++
		}
		if res.booked {
			if b.waiting > 0 {
				w := b.next()
				w.granted, w.at, w.booked = true, after, res.now
				w.atOnce = w.free && w.refused == sh.refused
				close(w.ready)
			} else {
				// The waiters left during the transaction: the slot goes back.
				sh.reports = append(sh.reports, report{kind: reportGiveBack, at: res.now})
			}
		}
		for _, until := range res.pauses {
			l.log.Warn("fiber rate limit hit: pausing the bucket", "key_id", b.key.keyID, "endpoint", b.key.ep,
				"paused_for", until.Sub(res.now), "streak", b.streak, "queue_depth", b.waiting)
		}
	}
	sh.running = false
	if l.flushed != nil {
		close(l.flushed)
		l.flushed = nil
	}
	l.scheduleShared(b, time.Now())
}

// transact runs one transaction on the ledger's record of bucket s (fresh, of the bucket's
// limits): it applies reports in order and, when book is set, books a slot if one is free and,
// unless urgent waiters are queued or the Limiter is overdue, no other Limiter's urgent claim
// is live. It then claims the urgent lane until the next slot (plus claimHold) while urgent
// waiters remain queued after the booking (the slot goes to one of them when toUrgent; else to
// the background lane, whose share of the slots the urgent waiters leave it), and clears its
// own claim when none do. The caller does not hold l.mu.
func (l *Limiter) transact(s *bucket, reports []report, book bool, urgent int, toUrgent, overdue bool) (txResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ledgerTimeout)
	defer cancel()
	var res txResult
	err := l.ledger.UpdateWindow(ctx, s.key.keyID, string(s.key.ep), func(now time.Time, state []byte) ([]byte, error) {
		v := s.fresh()
		if err := v.unmarshalWindow(state); err != nil {
			return nil, err
		}
		res = txResult{view: v, now: now}
		changed := v.log.expire(now, l.maxInFlight) || len(reports) > 0
		cutoff := now.Add(-v.window)
		for _, r := range reports {
			switch r.kind {
			case reportSent:
				v.log.sent(now, cutoff)
			case reportDone:
				v.log.done(now, cutoff)
			case reportGiveBack:
				v.log.giveBack(r.at)
			case reportPenalty:
				res.pauses = append(res.pauses, v.pause(now, r.retryAfter))
			}
		}
		old := v.claim
		if !v.claim.until.After(now) {
			v.claim = urgentClaim{} // expired: no claim
		}
		held := !v.claim.until.IsZero() && v.claim.by != l.id
		if book && !v.slotTime(now, 0).After(now) {
			if urgent > 0 || !held || overdue {
				v.log.push(now)
				res.booked, changed = true, true
			} else {
				res.heldBack = true
			}
		}
		left := urgent // urgent waiters queued after the booking (fn may run again: urgent stays)
		if res.booked && toUrgent {
			left-- // the slot goes to the urgent head
		}
		switch {
		case left > 0:
			v.claim = urgentClaim{until: v.slotTime(now, 0).Add(v.claimHold()), by: l.id}
			res.claimed = true
		case v.claim.by == l.id:
			v.claim = urgentClaim{}
		}
		if v.claim.by != l.id {
			res.heldUntil = v.claim.until
		}
		if !v.claim.until.Equal(old.until) || v.claim.by != old.by {
			changed = true
		}
		if !changed {
			return nil, nil
		}
		return v.marshalWindow(), nil
	})
	if err != nil {
		return txResult{}, err // the ledger's error names the record
	}
	return res, nil
}

// failed handles a transaction that failed with err: its reports go back in front of the
// pending ones, to be tried again after a pause; if it was to book a slot, every queued
// waiter of the bucket fails with err, since nothing may be sent that the ledger has not
// booked. The caller holds l.mu.
func (l *Limiter) failed(b *bucket, reports []report, book bool, err error, now time.Time) {
	sh := b.sh
	sh.reports = append(reports, sh.reports...)
	sh.failures++
	sh.retryAt = now.Add(backoff(ledgerRetryBase, ledgerRetryCap, sh.failures))
	failedWaiters := 0
	if book {
		failedWaiters = b.failAll(err)
	}
	l.log.Warn("fiber budget: the ledger failed", "key_id", b.key.keyID, "endpoint", b.key.ep,
		"error", err, "failures", sh.failures, "waiters_failed", failedWaiters, "reports_pending", len(sh.reports))
}

// Flush waits until every report made so far (Sent, Done, Penalize, and slots given back) has
// reached the Limiter's Ledger, and returns nil; or until ctx ends, and returns its error,
// wrapped. Call it before closing the Ledger, so that the other replicas do not count this
// one's requests as in flight until Config.MaxInFlight has passed. Without a Ledger it returns
// nil at once.
func (l *Limiter) Flush(ctx context.Context) error {
	for {
		l.mu.Lock()
		busy := false
		for _, b := range l.buckets {
			if b.sh != nil && (b.sh.running || len(b.sh.reports) > 0 || b.sh.claimed && b.lanes[urgentLane].waiting == 0) {
				busy = true
				break
			}
		}
		if !busy {
			l.mu.Unlock()
			return nil
		}
		if l.flushed == nil {
			l.flushed = make(chan struct{})
		}
		flushed := l.flushed
		l.mu.Unlock()
		select {
		case <-flushed:
		case <-ctx.Done():
			return fmt.Errorf("budget: flush reports to the ledger: %w", ctx.Err())
		}
	}
}
