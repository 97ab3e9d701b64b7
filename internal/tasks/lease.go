package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fibergate/fibergate/internal/storage"
)

// Leases is what the engine needs of a store that several replicas share, so that one
// replica at a time polls each task. storagetest.LeaseBackend states the full contract (and
// Update.Fence, which such a store must enforce); the postgres store implements it.
//
// What the engine relies on:
//   - A lease names its replica and expires by the store's clock, ttl after it was claimed
//     or last renewed: never earlier, however the replicas' clocks differ from it.
//   - ClaimTasks leases up to max unfinished tasks under keyIDs that no replica holds
//     (never leased, released, or expired), oldest first, and concurrent claimers never get
//     the same task.
//   - ClaimTask leases one task unless another replica holds it live, and reports whether
//     replica holds it now; storage.ErrNotFound if there is no such task.
//   - RenewLeases extends replica's live leases among ids and returns the ids it extended:
//     a lease not returned is lost.
//   - ReleaseLeases frees replica's leases of ids at once (the task finished, or the engine
//     stops), so that other replicas take them over without waiting for expiry.
//   - AppendResults with Update.Fence set to a replica fails with storage.ErrLeaseLost, and
//     writes nothing, unless that replica holds a live lease on the task.
//
// Its methods must be safe for concurrent use, also by several processes.
type Leases interface {
	ClaimTasks(ctx context.Context, replica string, keyIDs []string, ttl time.Duration, max int) ([]string, error)
	ClaimTask(ctx context.Context, replica, id string, ttl time.Duration) (bool, error)
	RenewLeases(ctx context.Context, replica string, ids []string, ttl time.Duration) ([]string, error)
	ReleaseLeases(ctx context.Context, replica string, ids ...string) error
}

// DefaultLeaseTTL is Config.LeaseTTL's default.
const DefaultLeaseTTL = 15 * time.Second

const (
	// claimBatch is the most tasks one claim takes, so that replicas share free tasks
	// rather than the first to look taking them all.
	claimBatch = 32
	// maxClaimInterval bounds the time between two claims: a free task waits at most this
	// long for a replica (and a dead replica's tasks LeaseTTL more).
	maxClaimInterval = 2 * time.Second
	// releaseTimeout bounds the release of the leases held when Run stops.
	releaseTimeout = 5 * time.Second
)

// lease is this replica's hold on one task, from its claim until its poller ends or the
// lease is lost. Its fields are guarded by Engine.mu.
type lease struct {
	id string
	// until is when the lease may run out, by this process's clock: the store's lease lasts
	// LeaseTTL from a moment after the claim or renewal was sent, and until is sooner, by
	// a margin for a poll under way.
	until time.Time
	// cancel stops the task's poller (with cause storage.ErrLeaseLost); nil until the
	// poller takes the lease.
	cancel context.CancelCauseFunc
	// watchdog ends the lease at until unless it was renewed meanwhile.
	watchdog *time.Timer
}

// extend moves l's end to until, if later. Callers hold Engine.mu.
func (l *lease) extend(until time.Time) {
	if until.After(l.until) {
		l.until = until
	}
}

// leaseUntil is until for a lease claimed or renewed by a call sent at sent. The margin of a
// fifth of the TTL covers a poll under way when the lease runs out; renewals come every third
// of it, so one late or failed renewal costs nothing.
func (e *Engine) leaseUntil(sent time.Time) time.Time { return sent.Add(e.ttl - e.ttl/5) }

// holdLocked records a lease of id claimed by a call sent at sent, or extends the one held.
// Callers hold e.mu.
func (e *Engine) holdLocked(id string, sent time.Time) *lease {
	until := e.leaseUntil(sent)
	if l := e.held[id]; l != nil {
		l.extend(until)
		return l
	}
	l := &lease{id: id, until: until}
	l.watchdog = time.AfterFunc(time.Until(until), func() { e.expire(l) })
	e.held[id] = l
	return l
}

// expire ends l if it ran out unrenewed, and otherwise waits for its new end.
func (e *Engine) expire(l *lease) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.held[l.id] != l {
		return
	}
	if d := time.Until(l.until); d > 0 {
		l.watchdog.Reset(d)
		return
	}
	e.loseLocked(l)
}

// loseLocked forgets a lost lease and stops its poller. Callers hold e.mu.
func (e *Engine) loseLocked(l *lease) {
	delete(e.held, l.id)
	l.watchdog.Stop()
	if l.cancel != nil {
		l.cancel(storage.ErrLeaseLost)
	}
}

// lose forgets l if it is still held, and stops its poller.
func (e *Engine) lose(l *lease) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.held[l.id] == l {
		e.loseLocked(l)
	}
}

// live reports whether the poller holding l may still poll.
func (e *Engine) live(l *lease) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.held[l.id] == l && time.Now().Before(l.until)
}

// acquire gives the poller of id about to start the lease this replica holds on the task,
// claiming the task if the claim loop has not, and the context the poller runs in: it ends
// with ctx, or when the lease is lost (cause storage.ErrLeaseLost). A nil lease and nil
// error: another replica holds the task (or it is finished or deleted).
func (e *Engine) acquire(ctx context.Context, id string) (context.Context, *lease, error) {
	e.mu.Lock()
	l := e.held[id]
	e.mu.Unlock()
	if l == nil {
		sent := time.Now()
		ok, err := e.leases.ClaimTask(ctx, e.replica, id, e.ttl)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return nil, nil, nil // deleted meanwhile
		case err != nil:
			return nil, nil, fmt.Errorf("claim task %s: %w", id, err)
		case !ok:
			return nil, nil, nil
		}
		e.mu.Lock()
		l = e.holdLocked(id, sent)
		e.mu.Unlock()
	}
	pctx, cancel := context.WithCancelCause(ctx)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.held[id] != l { // ran out meanwhile
		cancel(nil)
		return nil, nil, nil
	}
	l.cancel = cancel
	return pctx, l, nil
}

// endLease ends the hold of a poller that returned. Unless the lease was lost, it is
// released, so that another replica may take the task at once if it is not finished; when
// Run is stopping (ctx ended), shutdown releases every lease held in one call.
func (e *Engine) endLease(ctx context.Context, l *lease) {
	e.mu.Lock()
	release := e.held[l.id] == l && ctx.Err() == nil
	if release {
		delete(e.held, l.id)
		l.watchdog.Stop()
	}
	l.cancel(nil)
	e.mu.Unlock()
	if !release {
		return
	}
	if err := e.leases.ReleaseLeases(ctx, e.replica, l.id); err != nil && ctx.Err() == nil {
		e.log.Warn("releasing a task's lease failed: it expires within the lease TTL", "task_id", l.id, "err", err)
	}
}

// claimLoop claims free tasks whose keys this replica knows, a few at a time, and has Run
// follow them, every min(LeaseTTL/3, maxClaimInterval) until ctx ends.
func (e *Engine) claimLoop(ctx context.Context) {
	every := min(e.ttl/3, maxClaimInterval)
	e.log.Info("sharing the store's tasks with other replicas", "lease_ttl", e.ttl, "claim_every", every)
	t := time.NewTimer(0)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		t.Reset(every)
		keys := e.keys.ids()
		if len(keys) == 0 {
			continue
		}
		sent := time.Now()
		ids, err := e.leases.ClaimTasks(ctx, e.replica, keys, e.ttl, claimBatch)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !failing {
				e.log.Warn("claiming free tasks failed; retrying", "every", every, "err", err)
			}
			failing = true
			continue
		}
		if failing {
			e.log.Info("claiming free tasks again")
			failing = false
		}
		if len(ids) == 0 {
			continue
		}
		e.mu.Lock()
		for _, id := range ids {
			e.holdLocked(id, sent)
		}
		e.mu.Unlock()
		for _, id := range ids {
			e.spawn(id)
		}
		e.log.Info("claimed free tasks", "count", len(ids), "task_ids", ids)
	}
}

// heartbeat renews the leases this replica holds every LeaseTTL/3 until ctx ends, and stops
// the pollers of those it lost. A renewal that fails leaves the leases to their watchdogs:
// each poller stops when its lease may run out.
func (e *Engine) heartbeat(ctx context.Context) {
	t := time.NewTicker(e.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.mu.Lock()
		asked := make(map[string]*lease, len(e.held))
		ids := make([]string, 0, len(e.held))
		for id, l := range e.held {
			asked[id] = l
			ids = append(ids, id)
		}
		e.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		sent := time.Now()
		rctx, cancel := context.WithTimeout(ctx, e.ttl/3)
		kept, err := e.leases.RenewLeases(rctx, e.replica, ids, e.ttl)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			e.log.Warn("renewing task leases failed: their pollers stop if the leases run out", "count", len(ids), "err", err)
			continue
		}
		e.renewed(asked, kept, sent)
	}
}

// renewed applies a renewal sent at sent for the leases asked: those kept last longer, the
// others are lost.
func (e *Engine) renewed(asked map[string]*lease, kept []string, sent time.Time) {
	e.mu.Lock()
	for _, id := range kept {
		if l := asked[id]; l != nil && e.held[id] == l {
			l.extend(e.leaseUntil(sent))
		}
		delete(asked, id)
	}
	var lost []string
	for id, l := range asked {
		if e.held[id] == l {
			e.loseLocked(l)
			lost = append(lost, id)
		}
	}
	e.mu.Unlock()
	if len(lost) > 0 {
		e.log.Warn("task leases lost: their pollers stop, other replicas poll the tasks", "count", len(lost), "task_ids", lost)
	}
}

// releaseAll releases every lease still held, once Run's pollers and loops have returned.
func (e *Engine) releaseAll() {
	e.mu.Lock()
	ids := make([]string, 0, len(e.held))
	for id, l := range e.held {
		l.watchdog.Stop()
		ids = append(ids, id)
	}
	clear(e.held)
	e.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	if err := e.leases.ReleaseLeases(ctx, e.replica, ids...); err != nil {
		e.log.Warn("releasing task leases failed: other replicas take the tasks over once they expire", "count", len(ids), "err", err)
		return
	}
	e.log.Info("released task leases", "count", len(ids))
}
