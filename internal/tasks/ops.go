package tasks

import (
	"context"
	"errors"
	"time"

	"google.golang.org/protobuf/proto"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberpb"
	"github.com/fibergate/fibergate/internal/storage"
)

// Get returns owner's task id; another owner's task is ErrNotFound. An unknown id with an
// apiKey is adopted: if Fiber knows the task under that key, it is stored as owner's and
// followed like any other. A known task whose poller waits for its key gets it when apiKey
// matches.
func (e *Engine) Get(ctx context.Context, owner, id, apiKey string) (storage.Task, error) {
	t, err := e.store.GetTask(ctx, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		if apiKey == "" {
			return storage.Task{}, ErrNotFound
		}
		return e.adopt(ctx, owner, id, apiKey)
	case err != nil:
		return storage.Task{}, e.storeFailed(ctx, err)
	case t.Owner != owner:
		return storage.Task{}, ErrNotFound
	}
	if apiKey != "" && fiber.KeyID(apiKey) == t.KeyID && !t.State.Terminal() {
		if _, known := e.keys.get(t.KeyID); !known {
			e.keys.add(apiKey)
			e.spawn(t.ID)
		}
	}
	return t, nil
}

func (e *Engine) adopt(ctx context.Context, owner, id, apiKey string) (storage.Task, error) {
	// The rate limiter queues callers fairly by this name, as for the task's polls.
	resp, err := e.fiber.Poll(budget.WithCaller(ctx, owner), apiKey, fiber.PollRequest{TaskID: id, Take: 1})
	if err != nil {
		if fiber.KindOf(err) == fiber.KindNotFound {
			return storage.Task{}, ErrNotFound
		}
		return storage.Task{}, err
	}
	now := time.Now()
	t := storage.Task{
		ID: id, Owner: owner, KeyID: e.keys.add(apiKey),
		Enrichment: storage.Enrichment{WorkEmails: true, PersonalEmails: true, PhoneNumbers: true},
		State:      storage.StateRunning, Stats: statsFromFiber(resp.Stats),
		CreateTime: now, UpdateTime: now,
	}
	if err := e.store.CreateTask(ctx, t); err != nil {
		if errors.Is(err, storage.ErrExists) { // adopted concurrently
			return e.Get(ctx, owner, id, "")
		}
		return storage.Task{}, err
	}
	e.log.Info("adopted a Fiber task", "task_id", id, "key_id", t.KeyID)
	e.spawn(id)
	return t, nil
}

// List returns a page of f.Owner's tasks, newest first.
func (e *Engine) List(ctx context.Context, f storage.ListFilter) ([]storage.Task, *storage.PageKey, error) {
	ts, next, err := e.store.ListTasks(ctx, f)
	return ts, next, e.storeFailed(ctx, err)
}

// Results returns up to limit of the task's results after afterSeq, and the task as read
// before them (so its NumResults never trails the results returned).
func (e *Engine) Results(ctx context.Context, owner, id, apiKey string, afterSeq, limit int) (storage.Task, []*cdv1.PersonResult, error) {
	t, err := e.Get(ctx, owner, id, apiKey)
	if err != nil {
		return t, nil, err
	}
	rs, err := e.store.ReadResults(ctx, id, afterSeq, limit)
	if err != nil {
		return t, nil, e.storeFailed(ctx, err)
	}
	out, err := decodeResults(rs)
	return t, out, err
}

// Cancel asks Fiber to cancel the task's unclaimed people, keeps Fiber's answer with the task
// and returns it, and has the poller poll at once, so it sees the task end CANCELED and drains
// its last pages (the poller on another replica too, with Signals). A finished task, or one Fiber finished before fibergate noticed (Fiber
// answers 422), gives ErrFinished; a task whose Fiber key is not known, ErrKeyUnavailable.
func (e *Engine) Cancel(ctx context.Context, owner, id, apiKey string) (*cdv1.Cancellation, error) {
	t, err := e.Get(ctx, owner, id, apiKey)
	if err != nil {
		return nil, err
	}
	if t.State.Terminal() {
		return nil, ErrFinished
	}
	key, ok := e.keys.get(t.KeyID)
	if !ok {
		return nil, ErrKeyUnavailable
	}
	resp, err := e.fiber.Cancel(budget.WithCaller(ctx, t.Owner), key, id) // queued fairly by owner
	// Either way the poller should see the outcome now; after the cancellation is stored, so
	// that its final snapshot carries it.
	defer e.pollSoon(id)
	if err != nil {
		var fe *fiber.Error
		if errors.As(err, &fe) && fe.Kind == fiber.KindBadRequest && fe.StatusCode == 422 {
			return nil, ErrFinished // Fiber finished it before we noticed
		}
		return nil, err
	}
	// Kept with the task, so that GetTask and every watcher's last message show the refund.
	c := fiberpb.CancellationFromFiber(resp, time.Now())
	if raw, merr := proto.Marshal(c); merr != nil {
		e.log.ErrorContext(ctx, "encode cancellation", "task_id", id, "err", merr)
	} else if serr := e.store.SetCancellation(context.WithoutCancel(ctx), id, raw); serr != nil {
		e.log.ErrorContext(ctx, "store cancellation", "task_id", id, "err", serr)
	}
	return c, nil
}

// pollSoon has the task's poller poll at once, on this replica or (with signals) on the one
// that polls it. It never blocks.
func (e *Engine) pollSoon(id string) {
	e.hub.pollSoon(id)
	if !e.polling(id) {
		e.signal(storage.SignalPollNow, id)
	}
}

// Delete forgets a finished task and its results.
func (e *Engine) Delete(ctx context.Context, owner, id string) error {
	t, err := e.Get(ctx, owner, id, "")
	if err != nil {
		return err
	}
	if !t.State.Terminal() {
		return ErrRunning
	}
	if err := e.store.DeleteTask(ctx, id); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return ErrNotFound
		}
		return e.storeFailed(ctx, err)
	}
	e.hub.notify(id, nil) // watchers see it gone
	e.hub.forget(id)
	return nil
}
