package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberpb"
	"github.com/fibergate/fibergate/internal/storage"
)

// follow polls one task until it is finished and drained, the task is deleted, or ctx ends;
// with leases, only while this replica holds the task's lease (storage.ErrLeaseLost once it
// does not). Failed polls and failed store calls are retried with backoff: only the end of
// ctx, or of the lease, stops a poller before its task is finished.
func (e *Engine) follow(ctx context.Context, id string) error {
	if t, ok := e.takeUnrecorded(id); ok && !e.recordLate(ctx, t) {
		return nil // logged for the operator
	}
	if e.leases == nil {
		return e.pollUntilDone(ctx, id, nil)
	}
	pctx, l, err := e.acquire(ctx, id)
	if err != nil && ctx.Err() == nil {
		e.log.Warn("claiming a task failed: it is claimed later, by this replica or another", "task_id", id, "err", err)
	}
	if l == nil {
		return nil // another replica holds the task, or it is finished or deleted
	}
	defer e.endLease(ctx, l)
	err = e.pollUntilDone(pctx, id, l)
	switch {
	case pctx.Err() != nil && ctx.Err() == nil:
		return context.Cause(pctx) // the lease was lost
	case errors.Is(err, storage.ErrLeaseLost):
		e.lose(l) // the store says so: nothing to release
	}
	return err
}

// pollUntilDone is follow's loop, for a task of which this replica holds l (nil without
// leases). It stops before a poll once l may have run out.
func (e *Engine) pollUntilDone(ctx context.Context, id string, l *lease) error {
	task, err := e.load(ctx, id, 0)
	if errors.Is(err, storage.ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return err
	}
	key, ok := e.keys.get(task.KeyID)
	if !ok {
		return ErrKeyUnavailable
	}
	ctx = budget.WithCaller(ctx, task.Owner) // polls queue fairly across owners
	kicks, pollNow := e.hub.signals(id)
	// A task started moments ago gets its first poll after FirstPoll; a resumed or adopted
	// one (it has no StartResponse: Fiber may have been at work on it for long) at once, and
	// what Fiber finished before that first answer does not count as pace.
	adopted := len(task.StartResponse) == 0
	fresh := !adopted && task.NumResults == 0 && task.Progress.Cursor == "" && time.Now().Sub(task.CreateTime) < e.policy.FirstPoll
	p := newPacer(e.policy, task.CreateTime, fresh, e.paces.of(task.KeyID))
	var wait time.Duration
	if fresh {
		wait = p.first(task, e.hub.watched(id)) - time.Now().Sub(task.CreateTime)
	}
	lastPoll := task.CreateTime
	failures := 0 // consecutive failed polls and store writes
	for !task.State.Terminal() {
		if wait > 0 && !e.pause(ctx, p.kickBy(lastPoll), wait, kicks, pollNow) {
			return ctx.Err()
		}
		if d := p.again(task, time.Now(), e.hub.watched(id)); d > 0 {
			wait = d
			continue
		}
		if !e.awaitStore(ctx) { // an answer that cannot be stored is not asked for
			return ctx.Err()
		}
		if l != nil && !e.live(l) {
			return fmt.Errorf("poll task %s: %w", id, storage.ErrLeaseLost)
		}
		// A poller waits its turn for a slot, however long, and never fails for waiting: the
		// longest unpolled first, watched tasks (somebody waits on them) before the others,
		// and a task that gains its first watcher while its poll waits moves up with them.
		pctx := budget.WithBackground(ctx, lastPoll)
		if e.hub.watched(id) {
			pctx = budget.WithUrgent(pctx)
		} else {
			pctx = budget.WithUrgentOn(pctx, kicks)
		}
		resp, err := e.fiber.Poll(pctx, key, fiber.PollRequest{TaskID: id, Cursor: cursorArg(task.Progress.Cursor), Take: PageSize})
		// The answer's counts are Fiber's as of now, not as of the call: the rate limiter may
		// have held the poll back. Pace and the next wait count from here.
		lastPoll = time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if permanent(err) {
				e.log.Warn("fiber refuses to report on the task: it ends FAILED", "task_id", id, "err", err)
				return e.finishFailed(ctx, &task)
			}
			var fe *fiber.Error
			if !errors.As(err, &fe) {
				err = e.storeFailed(ctx, err) // not Fiber's: the budget's store may be down
			}
			failures++
			wait = e.policy.backoff(failures)
			if fe != nil && fe.RetryAfter > wait {
				wait = fe.RetryAfter
			}
			e.log.Warn("poll failed; retrying", "task_id", id, "attempt", failures, "wait", wait, "err", err)
			continue
		}
		e.log.Debug("polled a task", "task_id", id, "results", len(resp.Results), "done", resp.Done)
		cursor := task.Progress.Cursor
		if err := e.apply(ctx, &task, resp, p.countsTrusted()); err != nil {
			switch {
			case errors.Is(err, storage.ErrNotFound):
				return nil // deleted meanwhile
			case ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(err, storage.ErrLeaseLost):
				return err // another replica may have stored this answer, or a later one
			}
			// The answer is dropped and the task polled again from what the store holds: after
			// ErrConflict another writer moved it; after any other error nothing was written.
			err = e.storeFailed(ctx, err) // a store found down holds the next poll back
			failures++
			wait = e.policy.backoff(failures)
			e.log.Warn("storing a poll answer failed; polling again", "task_id", id, "attempt", failures, "wait", wait, "err", err)
			if !e.sleep(ctx, wait) {
				return ctx.Err()
			}
			if task, err = e.load(ctx, id, failures); err != nil {
				if errors.Is(err, storage.ErrNotFound) {
					return nil
				}
				return err
			}
			wait = 0
			continue
		}
		failures = 0
		p.observe(lastPoll, task, len(resp.Results), resp.NextCursor != nil && *resp.NextCursor != cursor)
		wait = p.next(task, e.hub.watched(id))
	}
	e.hub.forget(id)
	return nil
}

// load reads the task from the store, retrying other errors than ErrNotFound with backoff
// until ctx ends. failures is how many attempts failed before this call.
func (e *Engine) load(ctx context.Context, id string, failures int) (storage.Task, error) {
	for {
		t, err := e.store.GetTask(ctx, id)
		if err == nil || errors.Is(err, storage.ErrNotFound) || ctx.Err() != nil {
			return t, err
		}
		err = e.storeFailed(ctx, err)
		failures++
		wait := e.policy.backoff(failures)
		e.log.Warn("loading a task failed; retrying", "task_id", id, "attempt", failures, "wait", wait, "err", err)
		if !e.sleep(ctx, wait) {
			return t, ctx.Err()
		}
	}
}

// sleep waits d, or less if the store is down and comes back meanwhile (the wait after a
// failed store call need not outlast the failure); it returns false if ctx ended first.
func (e *Engine) sleep(ctx context.Context, d time.Duration) bool {
	up, storeChanged := e.storeState()
	if up {
		storeChanged = nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-storeChanged:
	}
	return true
}

// apply stores what one poll answer adds to task and updates task in place. countsTrusted
// says whether the answer's counts may end the task after a full page (see fetchedAll).
func (e *Engine) apply(ctx context.Context, task *storage.Task, resp *fiber.PollResponse, countsTrusted bool) error {
	prog := task.Progress
	skip := min(prog.Skip, len(resp.Results))
	fresh := resp.Results[skip:]
	moved := resp.NextCursor != nil && *resp.NextCursor != prog.Cursor
	if moved {
		prog.Cursor, prog.Skip = *resp.NextCursor, 0
	} else {
		prog.Skip = skip + len(fresh)
	}
	prog.FiberDone = resp.Done
	full := moved && len(resp.Results) >= PageSize // more pages may follow, unless the counts say none

	state := storage.StateRunning
	if resp.Done && (!full || countsTrusted && fetchedAll(resp, task.NumResults+len(fresh))) { // this page was the last
		switch {
		case resp.Canceled:
			state = storage.StateCanceled
		case resp.Failed:
			state = storage.StateFailed
		default:
			state = storage.StateSucceeded
		}
	}
	stats := statsFromFiber(resp.Stats)
	if len(fresh) == 0 && state == task.State && stats == task.Stats && prog == task.Progress {
		return nil // nothing new: no write, nobody to wake
	}
	data := make([][]byte, len(fresh))
	decoded := make([]*cdv1.PersonResult, len(fresh))
	for i, r := range fresh {
		decoded[i] = fiberpb.PersonResultFromFiber(r, task.NumResults+1+i)
		b, err := proto.Marshal(decoded[i])
		if err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		data[i] = b
	}
	now := time.Now()
	u := storage.Update{State: state, Stats: stats, Progress: prog, UpdateTime: now, Fence: e.fence}
	if state.Terminal() {
		u.FinishTime = now
	}
	if err := e.store.AppendResults(ctx, task.ID, task.NumResults, data, u); err != nil {
		return fmt.Errorf("store poll of %s: %w", task.ID, err)
	}
	from := task.NumResults
	task.NumResults += len(fresh)
	task.State, task.Stats, task.Progress, task.UpdateTime, task.FinishTime = state, stats, prog, now, u.FinishTime
	if state == storage.StateCanceled && task.Cancellation == nil {
		// Cancel stored Fiber's answer after this copy was loaded: watchers served from the
		// snapshot get it on their last message, as those reading the store do.
		if stored, err := e.store.GetTask(ctx, task.ID); err == nil {
			task.Cancellation = stored.Cancellation
		}
	}
	e.hub.notify(task.ID, &snapshot{task: *task, from: from, results: decoded})
	e.signal(storage.SignalResults, task.ID) // the watchers on other replicas
	return nil
}

// finishFailed ends a task that Fiber will not report on. Store errors are retried with
// backoff until ctx ends.
func (e *Engine) finishFailed(ctx context.Context, task *storage.Task) error {
	for failures := 0; ; {
		now := time.Now()
		err := e.store.AppendResults(ctx, task.ID, task.NumResults, nil, storage.Update{
			State: storage.StateFailed, Stats: task.Stats, Progress: task.Progress, UpdateTime: now, FinishTime: now,
			Fence: e.fence,
		})
		if err == nil || errors.Is(err, storage.ErrNotFound) {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, storage.ErrLeaseLost) {
			return fmt.Errorf("store the failure of task %s: %w", task.ID, err)
		}
		err = e.storeFailed(ctx, err)
		failures++
		wait := e.policy.backoff(failures)
		e.log.Warn("storing a task's failure failed; retrying", "task_id", task.ID, "attempt", failures, "wait", wait, "err", err)
		if !e.sleep(ctx, wait) {
			return ctx.Err()
		}
		t, err := e.load(ctx, task.ID, failures) // after ErrConflict, NumResults moved
		if errors.Is(err, storage.ErrNotFound) {
			break
		}
		if err != nil {
			return err
		}
		*task = t
	}
	task.State = storage.StateFailed
	e.hub.notify(task.ID, nil)
	e.signal(storage.SignalResults, task.ID)
	e.hub.forget(task.ID)
	return nil
}

// permanent reports a poll error that retrying cannot fix.
func permanent(err error) bool {
	switch fiber.KindOf(err) {
	case fiber.KindNotFound, fiber.KindUnauthenticated, fiber.KindForbidden, fiber.KindBadRequest:
		return true
	}
	return false
}

func cursorArg(c string) *string {
	if c == "" {
		return nil
	}
	return &c
}

// pause waits d. A kick (the task's first watcher, here or on another replica) shortens the wait to
// end at kickBy; pollNow ends it. It returns false if ctx ended.
func (e *Engine) pause(ctx context.Context, kickBy time.Time, d time.Duration, kick, pollNow <-chan struct{}) bool {
	deadline := time.Now().Add(d)
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-pollNow:
			return true
		case <-kick:
			if kickBy.Before(deadline) {
				deadline = kickBy
				t.Reset(time.Until(deadline))
			}
		}
	}
}
