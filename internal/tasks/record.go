package tasks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/storage"
)

// Errors of Track: the task was started upstream (and paid for) but is not stored.
var (
	// ErrNotRecorded: the store refused the task after every quick retry. The engine keeps
	// trying to store it in the background and follows it once stored; it is lost only if the
	// process stops first.
	ErrNotRecorded = errors.New("the started task could not be recorded")
	// ErrIDConflict: the store already holds another task (another owner, Fiber key or start
	// answer, or adopted before the start) under the new task's id. That task is left as it
	// is and never served for the new one, which is not followed.
	ErrIDConflict = errors.New("the started task's id is already taken by another task")
)

// trackAttempts and trackRetryWait bound Track's own retries of a failed write: a store that
// is briefly busy gets about a third of a second before the caller hears of it.
const (
	trackAttempts  = 3
	trackRetryWait = 100 * time.Millisecond
)

// Track stores a task that was just started with apiKey on behalf of owner, and has Run
// follow it (with leases: once this replica claims it, unless another replica holds it).
// ctx bounds only Track's quick retries; the task itself is never given up because a caller
// went away.
//
// A failed write is retried a few times. If the task is still not stored, Track returns an
// error matching ErrNotRecorded (and the store's error) and the engine goes on trying in the
// background with the poller's backoff, then follows the task; if the engine stops first,
// it logs the task in a line starting "RECONCILE". An id the store already holds is the same
// task only if owner and key match and the held task has the same start answer (an earlier
// write that landed without saying so) or was adopted by its owner since the start; any
// other holder gives ErrIDConflict, and the new task is neither stored nor followed.
func (e *Engine) Track(ctx context.Context, owner, apiKey string, start *cdv1.StartBatchResponse, enrichment storage.Enrichment) (storage.Task, error) {
	raw, err := proto.Marshal(start)
	if err != nil {
		return storage.Task{}, fmt.Errorf("encode start: %w", err)
	}
	now := time.Now()
	t := storage.Task{
		ID:            start.GetOutput().GetTaskId(),
		Owner:         owner,
		KeyID:         e.keys.add(apiKey),
		Enrichment:    enrichment,
		StartResponse: raw,
		State:         storage.StateRunning,
		Stats:         storage.Stats{TotalPeopleToFetch: int(start.GetOutput().GetNumPeopleEnqueued()), NumRemaining: int(start.GetOutput().GetNumPeopleEnqueued())},
		CreateTime:    now,
		UpdateTime:    now,
	}
	for n := 1; ; n++ {
		err = e.record(ctx, t)
		if err == nil {
			e.spawn(t.ID)
			return t, nil
		}
		if errors.Is(err, ErrIDConflict) {
			return storage.Task{}, fmt.Errorf("store task %s: %w", t.ID, err)
		}
		if n == trackAttempts || !e.sleep(ctx, trackRetryWait) {
			break
		}
	}
	e.mu.Lock()
	stopped := e.stopped
	if !stopped {
		e.unrecorded[t.ID] = t
	}
	e.mu.Unlock()
	if stopped {
		e.logLost(t)
	} else {
		e.spawn(t.ID)
	}
	return storage.Task{}, fmt.Errorf("store task %s: %w: %w", t.ID, ErrNotRecorded, err)
}

// record stores t, new. ErrIDConflict if another task holds its id.
//
// A held task is t itself if it has t's owner and key and either t's start answer (an
// earlier attempt stored it) or none, having been adopted at or after t's start: the owner
// found the task by id with its key before the engine could store it, so it is Fiber's task
// that t names. An adopted task older than t is another one, whatever its id.
func (e *Engine) record(ctx context.Context, t storage.Task) error {
	err := e.store.CreateTask(ctx, t)
	if !errors.Is(err, storage.ErrExists) {
		return err
	}
	held, gerr := e.store.GetTask(ctx, t.ID)
	switch {
	case errors.Is(gerr, storage.ErrNotFound):
		return err // deleted meanwhile: the next attempt may store it
	case gerr != nil:
		return gerr
	case held.Owner != t.Owner || held.KeyID != t.KeyID:
		return ErrIDConflict
	case bytes.Equal(held.StartResponse, t.StartResponse):
		return nil // an earlier attempt stored it
	case len(held.StartResponse) == 0 && !held.CreateTime.Before(t.CreateTime):
		return nil // adopted since the start
	}
	return ErrIDConflict
}

// recordLate stores a task Track could not, retrying with the poller's backoff until it is
// stored (true) or cannot be: its id is taken, or ctx ended (false, logged for the operator).
func (e *Engine) recordLate(ctx context.Context, t storage.Task) bool {
	defer func() {
		e.mu.Lock()
		delete(e.unrecorded, t.ID)
		e.mu.Unlock()
	}()
	for failures := 1; ; failures++ {
		wait := e.policy.backoff(failures)
		if !e.sleep(ctx, wait) {
			e.logLost(t)
			return false
		}
		err := e.record(ctx, t)
		switch {
		case err == nil:
			e.log.Info("a started task was recorded late and is followed", "task_id", t.ID, "attempts", failures+trackAttempts)
			return true
		case errors.Is(err, ErrIDConflict):
			e.log.Error("RECONCILE: a started task's id is taken by another task: it is not followed",
				"task_id", t.ID, "principal", t.Owner, "key_id", t.KeyID)
			return false
		}
		e.log.Warn("recording a started task failed; retrying", "task_id", t.ID, "attempt", failures+trackAttempts, "err", err)
	}
}

// logLost tells the operator of a started task that the engine stops without having stored.
func (e *Engine) logLost(t storage.Task) {
	e.log.Error("RECONCILE: a started task was never recorded: the engine stopped first",
		"task_id", t.ID, "principal", t.Owner, "key_id", t.KeyID)
}

// takeUnrecorded returns the task Track left for its poller to store, if any.
func (e *Engine) takeUnrecorded(id string) (storage.Task, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.unrecorded[id]
	return t, ok
}
