package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/storage"
)

// follow polls one task until it is finished and drained, the task is deleted, or ctx ends.
func (e *Engine) follow(ctx context.Context, id string) error {
	task, err := e.store.GetTask(ctx, id)
	if err != nil {
		return fmt.Errorf("load task: %w", err)
	}
	key, ok := e.keys.get(task.KeyID)
	if !ok {
		return ErrKeyUnavailable
	}
	kicks := e.hub.kicks(id)
	p := &pacer{policy: e.policy}
	failures := 0
	for !task.State.Terminal() {
		resp, err := e.fiber.Poll(ctx, key, fiber.PollRequest{TaskID: id, Cursor: cursorArg(task.Progress.Cursor), Take: PageSize})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if permanent(err) {
				e.log.Warn("fiber refuses to report on the task: it ends FAILED", "task_id", id, "err", err)
				return e.finishFailed(ctx, &task)
			}
			failures++
			wait := p.retry(failures)
			var fe *fiber.Error
			if errors.As(err, &fe) && fe.RetryAfter > wait {
				wait = fe.RetryAfter
			}
			e.log.Warn("poll failed; retrying", "task_id", id, "attempt", failures, "wait", wait, "err", err)
			if !e.sleep(ctx, wait, nil) {
				return ctx.Err()
			}
			continue
		}
		failures = 0
		full, err := e.apply(ctx, &task, resp)
		if err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return nil // deleted meanwhile
			}
			return err
		}
		if task.State.Terminal() || full {
			continue
		}
		progressed := p.observe(e.now(), task.Stats)
		pending := max(0, task.Stats.NumCompleted+task.Stats.NumFailed-task.NumResults)
		wait := p.next(progressed, e.hub.watched(id), pending, task.Stats.NumRemaining)
		if !e.sleep(ctx, wait, kicks) {
			return ctx.Err()
		}
	}
	e.hub.forget(id)
	return nil
}

// apply stores what one poll answer adds to task and updates task in place. full reports a
// full page with a new cursor: more results are waiting.
func (e *Engine) apply(ctx context.Context, task *storage.Task, resp *fiber.PollResponse) (full bool, err error) {
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
	full = moved && len(resp.Results) >= PageSize

	state := storage.StateRunning
	if resp.Done && !full { // done, and this page was the last
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
		return full, nil // nothing new: no write, nobody to wake
	}
	data := make([][]byte, len(fresh))
	for i, r := range fresh {
		b, err := proto.Marshal(PersonResultFromFiber(r, task.NumResults+1+i))
		if err != nil {
			return full, fmt.Errorf("encode result: %w", err)
		}
		data[i] = b
	}
	now := e.now()
	u := storage.Update{State: state, Stats: stats, Progress: prog, UpdateTime: now}
	if state.Terminal() {
		u.FinishTime = now
	}
	if err := e.store.AppendResults(ctx, task.ID, task.NumResults, data, u); err != nil {
		return full, fmt.Errorf("store poll of %s: %w", task.ID, err)
	}
	task.NumResults += len(fresh)
	task.State, task.Stats, task.Progress, task.UpdateTime, task.FinishTime = state, stats, prog, now, u.FinishTime
	e.hub.notify(task.ID)
	return full, nil
}

// finishFailed ends a task that Fiber will not report on.
func (e *Engine) finishFailed(ctx context.Context, task *storage.Task) error {
	now := e.now()
	err := e.store.AppendResults(ctx, task.ID, task.NumResults, nil, storage.Update{
		State: storage.StateFailed, Stats: task.Stats, Progress: task.Progress, UpdateTime: now, FinishTime: now,
	})
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	task.State = storage.StateFailed
	e.hub.notify(task.ID)
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

// sleep waits d on the engine's clock, or until kick fires (nil: never). It returns false if
// ctx ended.
func (e *Engine) sleep(ctx context.Context, d time.Duration, kick <-chan struct{}) bool {
	c, stop := e.clock.NewTimer(d)
	defer stop()
	select {
	case <-ctx.Done():
		return false
	case <-c:
	case <-kick:
	}
	return true
}
