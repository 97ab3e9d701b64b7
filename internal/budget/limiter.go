package budget

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/fibergate/fibergate/internal/fiber"
)

// Config configures a Limiter. The zero value is usable: Fiber's published limits, the default
// margin, no bound on waits but the caller's deadline, and no logging.
type Config struct {
	// Limits are the limits of the three endpoints; a zero field means its default.
	Limits Limits

	// Margin stretches every window: for departures whose answer was not reported (Done) it
	// absorbs the delay between a request leaving and reaching Fiber; for the others, what the
	// answer time cannot bound (Fiber's clock, timestamps it may round). Zero means
	// DefaultMargin of each endpoint's limit; negative means none.
	Margin time.Duration

	// MaxWait bounds how long Wait queues, on top of the context's deadline: a Wait whose slot
	// is expected later fails at once with a *WaitError. It does not bound Waits marked
	// WithBackground. Zero means no bound but the deadline.
	MaxWait time.Duration

	// SendReserve is the time a request needs after its slot: a Wait that has to queue counts
	// its context's deadline as that much earlier, so that the queue never eats the time the
	// request needs to be sent and answered. A start cut off by its deadline after it was sent
	// has an unknown outcome (it may be charged); one refused before sending costs nothing. A
	// queued Wait whose slot comes later than expected, leaving less than SendReserve before
	// the deadline, gives the slot back and fails with a *WaitError. A slot free at once is
	// granted whatever the deadline. Zero means no reserve.
	SendReserve time.Duration

	// Backoff is the pause after a 429 that carried no Retry-After. Zero fields mean a first
	// pause of one slot interval (Per/N, at least 10ms) and a cap of one window (Per).
	Backoff Backoff

	// Logger receives waits and fast failures at debug level and 429 pauses at warn level, with
	// the key's id (never the key). Nil discards.
	Logger *slog.Logger

	// Ledger, when not nil, keeps the windows of the buckets, shared with every Limiter on the
	// same ledger (the replicas of a cluster), which must have the same Limits and Margin. See
	// the package documentation. Nil means the budget is this Limiter's alone, in memory.
	Ledger Ledger

	// OnGrant, when not nil, is called after every slot granted and used (Wait returned nil),
	// with the bucket's endpoint, the Wait's lane and how long it queued (0 for a slot free at
	// once), for metrics. It is called on the Wait's goroutine, without locks held; it must be
	// safe for concurrent use and quick.
	OnGrant func(ep fiber.Endpoint, lane Lane, waited time.Duration)

	// MaxInFlight matters with a Ledger only: a request reported Sent and not Done this long
	// after counts as answered then, so that a replica that died with requests in flight does
	// not hold their slots for ever. It must exceed the longest attempt (the Fiber client's
	// timeout). Zero means DefaultMaxInFlight.
	MaxInFlight time.Duration
}

// Backoff shapes the pauses after 429s without Retry-After: the n-th 429 in a row pauses the
// bucket for Base doubled n-1 times, at most Cap, of which the upper half is drawn at random.
type Backoff struct {
	Base time.Duration
	Cap  time.Duration
}

// Limiter owns Fiber's budget for every API key and endpoint. Create it with New. It is safe
// for concurrent use. It starts no goroutine of its own: a bucket with queued waiters arms a
// time.AfterFunc timer, whose callback grants the slots that have come free and returns. With
// a Ledger, a bucket that has something to book or report runs its transactions in a goroutine
// that ends once there is nothing left to do now. So it needs no Close; with a Ledger, Flush
// before closing the ledger.
type Limiter struct {
	limits  Limits
	margin  time.Duration
	maxWait time.Duration
	reserve time.Duration
	backoff Backoff
	log     *slog.Logger
	onGrant func(ep fiber.Endpoint, lane Lane, waited time.Duration) // nil: none
	sweep   time.Duration                                            // how often idle buckets are looked for

	ledger      Ledger // nil: the windows are in the buckets
	maxInFlight time.Duration
	id          uint64 // names this Limiter in the urgent claims it leaves in the ledger; random, not 0

	mu        sync.Mutex // guards the fields below and every bucket
	buckets   map[bucketKey]*bucket
	retired   map[fiber.Endpoint]Counters // counters of buckets forgotten when idle
	nextSweep time.Time
	flushed   chan struct{} // closed when a bucket's transactions stop (for Flush); nil when nobody waits
}

// New returns a Limiter for cfg. It fails when a limit is not valid (N below 1 or a window that
// is not positive), or when the backoff, MaxWait or SendReserve is negative.
func New(cfg Config) (*Limiter, error) {
	ls, err := cfg.Limits.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("budget: %w", err)
	}
	if cfg.Backoff.Base < 0 || cfg.Backoff.Cap < 0 || cfg.MaxWait < 0 || cfg.SendReserve < 0 || cfg.MaxInFlight < 0 {
		return nil, fmt.Errorf("budget: backoff, max wait, send reserve and max in flight must not be negative")
	}
	l := &Limiter{
		limits:  ls,
		margin:  cfg.Margin,
		maxWait: cfg.MaxWait,
		reserve: cfg.SendReserve,
		backoff: cfg.Backoff,
		log:     cfg.Logger,
		onGrant: cfg.OnGrant,
		ledger:  cfg.Ledger,
		buckets: make(map[bucketKey]*bucket),
		retired: make(map[fiber.Endpoint]Counters),
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	l.maxInFlight = cmp.Or(cfg.MaxInFlight, DefaultMaxInFlight)
	for l.id == 0 {
		l.id = rand.Uint64()
	}
	l.sweep = max(ls.Start.Per, ls.Poll.Per, ls.Cancel.Per)
	l.nextSweep = time.Now().Add(l.sweep)
	return l, nil
}

// Limits returns the limits in force, defaults filled in.
func (l *Limiter) Limits() Limits { return l.limits }

// Wait blocks until a request of key keyID (a fiber.KeyID) to ep may leave, and consumes that
// slot: call it right before each attempt, retries included. It returns nil when the slot is
// granted; the caller should then send at once.
//
// When no slot is free the call is queued in its lane: urgent (WithUrgent) and normal Waits as
// the caller named in ctx (see WithCaller), served round-robin, urgent ones first; background
// Waits (WithBackground) by their since, with a share of the slots (see the package
// documentation); a Wait marked WithUrgentOn moves to the urgent lane when told. If its slot
// is expected after ctx's deadline less Config.SendReserve, or after Config.MaxWait unless it
// is a background Wait, Wait returns a *WaitError at once; if it comes with less than
// SendReserve left, Wait gives it back and returns a *WaitError. If ctx ends while queued, Wait returns ctx's error, wrapped, and the
// place is given up without consuming a slot. Wait also fails for an endpoint that is not one
// of fiber's three. With a Ledger, a queued Wait also returns a *WaitError once it has queued
// as long as it was allowed, and the ledger's error, wrapped, when booking its slot failed.
func (l *Limiter) Wait(ctx context.Context, keyID string, ep fiber.Endpoint) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("budget: wait for %s slot: %w", ep, err)
	}
	if _, ok := l.limits.For(ep); !ok {
		return fmt.Errorf("budget: unknown endpoint %q", ep)
	}
	caller := Caller(ctx)
	since, patient := BackgroundSince(ctx)
	li := normalLane
	switch {
	case Urgent(ctx):
		li = urgentLane
	case patient:
		li = LaneBackground
	}

	l.mu.Lock()
	now := time.Now()
	b := l.bucket(keyID, ep, now)
	if b.sh == nil && b.grantFree(now) {
		l.mu.Unlock()
		l.granted(ep, li, 0)
		return nil
	}
	ahead := b.ahead(caller, li, since)
	wait := b.slotAt(now, ahead).Sub(now)
	allowed, isMax, bounded := l.allowed(ctx, patient)
	if bounded && wait > allowed {
		b.counters.FastFails++
		l.mu.Unlock()
		werr := &WaitError{KeyID: keyID, Endpoint: ep, Limit: b.limit, RetryAfter: wait, Ahead: ahead, Allowed: allowed, MaxWait: isMax}
		if l.log.Enabled(ctx, slog.LevelDebug) { // spare the arguments' allocations
			l.log.Debug("fiber budget: no slot in time", "key_id", keyID, "endpoint", ep, "caller", caller,
				"expected_wait", wait, "allowed", allowed, "ahead", ahead)
		}
		return werr
	}
	w := b.enqueue(caller, li, since, now)
	var expired <-chan time.Time // with a Ledger, when the Wait has queued as long as allowed
	if b.sh != nil {
		w.free, w.refused = wait <= 0, b.sh.refused
		if bounded && allowed > 0 {
			t := time.NewTimer(allowed)
			defer t.Stop()
			expired = t.C
		}
	}
	l.schedule(b, now)
	depth := b.waiting
	l.mu.Unlock()
	if l.log.Enabled(ctx, slog.LevelDebug) { // spare the arguments' allocations
		l.log.Debug("fiber budget: waiting for a slot", "key_id", keyID, "endpoint", ep, "caller", caller,
			"expected_wait", wait, "ahead", ahead, "queue_depth", depth)
	}

	var promote <-chan struct{} // a signal that the Wait became urgent (WithUrgentOn)
	if li != urgentLane {
		promote = urgentOn(ctx)
	}
	for queued := true; queued; {
		select {
		case <-w.ready:
			queued = false
		case <-ctx.Done():
			queued = false
		case <-expired:
			queued = false
		case <-promote:
			promote = nil
			l.mu.Lock()
			if !w.granted && w.err == nil {
				b.promote(w, caller)
				l.schedule(b, time.Now())
			}
			l.mu.Unlock()
		}
	}
	l.mu.Lock()
	if w.err != nil {
		l.mu.Unlock()
		return fmt.Errorf("budget: book %s slot: %w", ep, w.err)
	}
	// Its time to queue is up, though its deadline may have come at the same instant (when
	// there is no SendReserve): a *WaitError says more, unless the caller gave up.
	timedOut := !w.granted && expired != nil && !time.Now().Before(w.enqueued.Add(allowed)) &&
		!errors.Is(ctx.Err(), context.Canceled)
	if err := ctx.Err(); err != nil && !timedOut {
		if w.granted {
			b.pending--
			b.giveBack(w)
		} else {
			b.remove(w)
		}
		b.counters.Abandoned++
		l.schedule(b, time.Now())
		l.mu.Unlock()
		return fmt.Errorf("budget: wait for %s slot: %w", ep, err)
	}
	if !w.granted {
		// With a Ledger, the other replicas' waiters, which the estimate on arrival could not
		// see, took the slots the Wait was allowed to wait for.
		now := time.Now()
		ahead := b.position(w)
		b.remove(w)
		b.counters.FastFails++
		l.schedule(b, now)
		l.mu.Unlock()
		if l.log.Enabled(ctx, slog.LevelDebug) { // spare the arguments' allocations
			l.log.Debug("fiber budget: no slot in time", "key_id", keyID, "endpoint", ep, "caller", caller,
				"allowed", allowed, "ahead", ahead)
		}
		return &WaitError{KeyID: keyID, Endpoint: ep, Limit: b.limit, RetryAfter: max(b.slotAt(now, ahead).Sub(now), 0), Ahead: ahead, Allowed: allowed, MaxWait: isMax}
	}
	if dl, ok := ctx.Deadline(); ok && !w.atOnce && time.Until(dl) < l.reserve {
		left := time.Until(dl)
		// The slot came too late to send safely before the deadline: hand it on.
		b.pending--
		b.giveBack(w)
		b.counters.FastFails++
		l.schedule(b, time.Now())
		l.mu.Unlock()
		if l.log.Enabled(ctx, slog.LevelDebug) { // spare the arguments' allocations
			l.log.Debug("fiber budget: slot came too close to the deadline", "key_id", keyID, "endpoint", ep,
				"caller", caller, "left", left, "reserve", l.reserve)
		}
		return &WaitError{KeyID: keyID, Endpoint: ep, Limit: b.limit, Allowed: max(left, 0)}
	}
	b.pending--
	waited := w.at.Sub(w.enqueued)
	b.counters.Grants++
	b.counters.Queued++
	b.counters.WaitTotal += waited
	b.counters.WaitMax = max(b.counters.WaitMax, waited)
	li = w.lane // it may have moved
	l.mu.Unlock()
	l.granted(ep, li, waited)
	if l.log.Enabled(ctx, slog.LevelDebug) { // spare the arguments' allocations
		l.log.Debug("fiber budget: slot granted", "key_id", keyID, "endpoint", ep, "caller", caller, "lane", li, "waited", waited)
	}
	return nil
}

// granted tells Config.OnGrant of a grant.
func (l *Limiter) granted(ep fiber.Endpoint, li Lane, waited time.Duration) {
	if l.onGrant != nil {
		l.onGrant(ep, li, waited)
	}
}

// allowed returns how long a Wait with ctx may queue, whether that bound is MaxWait, and
// whether there is a bound at all. The deadline's bound keeps SendReserve for the request;
// MaxWait does not bound a patient (background) Wait.
func (l *Limiter) allowed(ctx context.Context, patient bool) (d time.Duration, isMax, bounded bool) {
	if dl, ok := ctx.Deadline(); ok {
		d, bounded = time.Until(dl)-l.reserve, true
	}
	if l.maxWait > 0 && !patient && (!bounded || l.maxWait < d) {
		d, isMax, bounded = l.maxWait, true, true
	}
	return d, isMax, bounded
}

// Penalize reports that Fiber answered 429 to a request of keyID at ep. It pauses the whole
// bucket: no waiter of that key and endpoint is granted a slot for retryAfter when positive
// (Fiber's Retry-After), else for an exponential backoff with jitter (see Config.Backoff).
// Waiters already queued stay queued. An unknown endpoint is ignored.
func (l *Limiter) Penalize(keyID string, ep fiber.Endpoint, retryAfter time.Duration) {
	if _, ok := l.limits.For(ep); !ok {
		return
	}
	l.mu.Lock()
	now := time.Now()
	b := l.bucket(keyID, ep, now)
	b.counters.Penalties++
	if b.sh != nil {
		// Logged once the ledger has it, with the pause it set.
		b.sh.reports = append(b.sh.reports, report{kind: reportPenalty, retryAfter: retryAfter})
		l.schedule(b, now)
		l.mu.Unlock()
		return
	}
	until := b.pause(now, retryAfter)
	l.schedule(b, now)
	streak, depth := b.streak, b.waiting
	l.mu.Unlock()
	l.log.Warn("fiber rate limit hit: pausing the bucket", "key_id", keyID, "endpoint", ep,
		"retry_after", retryAfter, "paused_for", until.Sub(now), "streak", streak, "queue_depth", depth)
}

// Sent reports that a request of keyID to ep, granted by an earlier Wait, has just been
// written to the network. Until Done reports its answer, the request counts as in flight: it
// may reach Fiber at any moment, so no slot that depends on its arrival is granted. A caller
// that calls Sent must call Done once the attempt is over, whatever its outcome, or the slots
// after it wait for ever. Call it at most once per granted Wait, from any goroutine; an unknown
// endpoint is ignored.
func (l *Limiter) Sent(keyID string, ep fiber.Endpoint) {
	l.report(keyID, ep, reportSent)
}

// Done reports that the answer to a request of keyID to ep, granted by an earlier Wait, has
// begun to arrive, or that the attempt ended without one (failed, timed out, refused before
// sending). Fiber counted the request before it answered, so its departure then counts from
// now: an upper bound of its arrival, which makes the spacing of departures safe however long
// the request took to get there. Without Done (and Sent), a departure counts from its grant and
// only the margin absorbs the delay to Fiber. Call it at most once per granted Wait, from any
// goroutine; an unknown endpoint is ignored.
func (l *Limiter) Done(keyID string, ep fiber.Endpoint) {
	l.report(keyID, ep, reportDone)
}

// report applies a Sent or Done report to the bucket of keyID at ep; with a Ledger, it is
// applied to the ledger's record in the bucket's next transaction, which starts now.
func (l *Limiter) report(keyID string, ep fiber.Endpoint, kind reportKind) {
	if _, ok := l.limits.For(ep); !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	b := l.bucket(keyID, ep, now)
	if b.sh != nil {
		b.sh.reports = append(b.sh.reports, report{kind: kind})
		l.schedule(b, now)
		return
	}
	if kind == reportSent {
		b.log.sent(now, now.Add(-b.window))
	} else {
		b.log.done(now, now.Add(-b.window))
	}
	if b.waiting > 0 {
		l.schedule(b, now) // the next slot has moved
	}
}

// bucket returns the bucket of keyID at ep, creating it, and forgets idle buckets once per
// sweep period. The caller holds l.mu and has checked ep.
func (l *Limiter) bucket(keyID string, ep fiber.Endpoint, now time.Time) *bucket {
	if !now.Before(l.nextSweep) {
		l.forgetIdle(now)
	}
	k := bucketKey{keyID: keyID, ep: ep}
	if b, ok := l.buckets[k]; ok {
		return b
	}
	lim, _ := l.limits.For(ep)
	margin := l.margin
	switch {
	case margin == 0:
		margin = DefaultMargin(lim)
	case margin < 0:
		margin = 0
	}
	base, capped := l.backoff.Base, l.backoff.Cap
	if base == 0 {
		base = max(lim.Per/time.Duration(lim.N), 10*time.Millisecond)
	}
	if capped == 0 {
		capped = max(lim.Per, base)
	}
	b := &bucket{
		key:    k,
		limit:  lim,
		window: lim.Per + margin,
		base:   base,
		cap:    capped,
		log:    departures{max: lim.N},
	}
	if l.ledger != nil {
		b.sh = &shared{}
	}
	l.buckets[k] = b
	return b
}

// forgetIdle drops the buckets that are idle at now, keeping their counters in the totals. A
// fresh bucket behaves exactly as an idle one, so this changes no outcome; it only keeps the
// memory in proportion to the keys in use. The caller holds l.mu.
func (l *Limiter) forgetIdle(now time.Time) {
	for k, b := range l.buckets {
		if b.idle(now) {
			l.retired[k.ep] = l.retired[k.ep].add(b.counters)
			delete(l.buckets, k)
		}
	}
	l.nextSweep = now.Add(l.sweep)
}

// schedule grants every slot that is free at now, in round-robin order, and arms the bucket's
// timer for the next one while waiters remain. With a Ledger it leaves that to
// scheduleShared. The caller holds l.mu.
func (l *Limiter) schedule(b *bucket, now time.Time) {
	if b.sh != nil {
		l.scheduleShared(b, now)
		return
	}
	for b.waiting > 0 && !b.slotTime(now, 0).After(now) {
		b.grantNext(now)
	}
	if b.waiting == 0 {
		b.stopTimer()
		return
	}
	l.arm(b, now, b.slotTime(now, 0))
}

// arm sets the bucket's timer to go off at at, unless it is set for then already. The caller
// holds l.mu.
func (l *Limiter) arm(b *bucket, now, at time.Time) {
	if b.timer != nil && b.timerAt.Equal(at) {
		return
	}
	b.stopTimer()
	b.timerGen++
	gen := b.timerGen
	b.timerAt = at
	b.timer = time.AfterFunc(at.Sub(now), func() { l.fire(b, gen) })
}

// fire runs when the timer armed as generation gen goes off.
func (l *Limiter) fire(b *bucket, gen uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b.timerGen != gen {
		return // stopped too late, or replaced
	}
	b.timer = nil
	if b.sh != nil {
		b.sh.due = b.waiting > 0
	}
	l.schedule(b, time.Now())
}

// stopTimer disarms the bucket's timer. The caller holds the Limiter's mutex.
func (b *bucket) stopTimer() {
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
		b.timerGen++
	}
}
