package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/health"
	"github.com/fibergate/fibergate/internal/storage"
)

// MaxResultsPerUpdate caps the results of one watch update, so that messages stay small.
const MaxResultsPerUpdate = 500

// RereadInterval is how often, with leases, a watch reads the store for a task that another
// replica polls, besides when a signal says the task changed.
const RereadInterval = 2 * time.Second

// ErrShuttingDown ends watches when the engine stops; clients resume elsewhere with their
// last token.
var ErrShuttingDown = errors.New("server shutting down: resume with the last token")

// Update is one step of a watch.
type Update struct {
	// Task is the task as stored when the update was read, except that its State is terminal
	// only on the final update: while stored results remain to be delivered (a finished task
	// holds more than one update carries) it reads StateRunning, so that a client may stop at
	// the first terminal state without losing results.
	Task storage.Task
	// Results are new since the previous update (none with progressOnly).
	Results []*cdv1.PersonResult
	// Position is the sequence number of the last result delivered so far: resuming after it
	// continues with no gap and no duplicate.
	Position int
}

// Final reports whether u is the last update of its watch.
func (u Update) Final() bool { return u.Task.State.Terminal() && u.Position >= u.Task.NumResults }

// Watch calls send with the task's progress and results after position afterSeq until the
// task ends and every result was sent (then it returns nil), ctx ends, the engine stops
// (ErrShuttingDown), the store is found down (an error matching health.ErrStoreUnavailable:
// the task's poller waits for it, and the client resumes later with its last position), send
// fails, or the task is deleted (ErrNotFound). The first update comes at once; later ones
// when something changed. send runs on the caller's goroutine and may block: the poller is
// never held up by it.
func (e *Engine) Watch(ctx context.Context, owner, id, apiKey string, afterSeq int, progressOnly bool, send func(Update) error) error {
	t, err := e.Get(ctx, owner, id, apiKey)
	if err != nil {
		return err
	}
	if afterSeq > t.NumResults {
		return ErrBadToken
	}
	release := e.hub.watch(id)
	if !e.polling(id) {
		e.signal(storage.SignalWatched, id) // to its poller, and again every watchBeat (publishLoop)
	}
	finished := false
	defer func() {
		release()
		if finished {
			e.hub.forget(id) // no poller runs for a finished task: drop its hub entry
		}
	}()
	var last *Update
	for {
		changed, snap := e.hub.latest(id)
		var reread *time.Timer
		if e.leases != nil && !e.polling(id) {
			// Another replica may poll the task: a snapshot left by this one's poller may be
			// stale, so read the store. Its poller's writes wake the watch by a signal
			// (onSignal), if any; one may be lost, so read the store every RereadInterval
			// too. (A poller that stops here wakes the watch: see poll.)
			snap = nil
			reread = time.NewTimer(RereadInterval)
		}
		u, err := e.read(ctx, id, afterSeq, progressOnly, snap)
		if err != nil {
			if e.stopping() && ctx.Err() == nil {
				return ErrShuttingDown // the store may be closing under the read
			}
			return err
		}
		if u.Task.State.Terminal() && !u.Final() {
			u.Task.State = storage.StateRunning // results still to come: not the end yet
		}
		t := u.Task
		if last == nil || len(u.Results) > 0 || u.Final() || t.State != last.Task.State || t.Stats != last.Task.Stats {
			if err := send(u); err != nil {
				return err
			}
			last = &u
		}
		if u.Final() {
			finished = true
			return nil
		}
		afterSeq = u.Position
		if afterSeq < t.NumResults && !progressOnly {
			continue // more stored than one update carries
		}
		if err := e.await(ctx, changed, reread); err != nil {
			return err
		}
	}
}

// await waits for a change of the watched task (changed) or the time to read the store again
// (reread, if not nil). It returns ctx's error if ctx ends first, ErrShuttingDown if the
// engine stops first, and an error matching health.ErrStoreUnavailable if the store is, or
// goes, down first.
func (e *Engine) await(ctx context.Context, changed <-chan struct{}, reread *time.Timer) error {
	var due <-chan time.Time
	if reread != nil {
		defer reread.Stop()
		due = reread.C
	}
	for {
		up, storeChanged := e.storeState()
		if !up {
			return fmt.Errorf("watch: %w", health.ErrStoreUnavailable)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.stop:
			return ErrShuttingDown
		case <-changed:
			return nil
		case <-due:
			return nil
		case <-storeChanged:
		}
	}
}

// read returns the watch update after position afterSeq. A watcher that is caught up with the
// latest write (snap) takes it from memory; any other reads the store.
func (e *Engine) read(ctx context.Context, id string, afterSeq int, progressOnly bool, snap *snapshot) (Update, error) {
	if snap != nil && (afterSeq == snap.from || afterSeq == snap.task.NumResults || progressOnly) {
		u := Update{Task: snap.task, Position: snap.task.NumResults}
		if !progressOnly && afterSeq == snap.from {
			u.Results = snap.results
		}
		return u, nil
	}
	t, err := e.store.GetTask(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return Update{}, ErrNotFound
	}
	if err != nil {
		return Update{}, e.storeFailed(ctx, err)
	}
	u := Update{Task: t, Position: afterSeq}
	if progressOnly {
		u.Position = t.NumResults
	} else if t.NumResults > afterSeq {
		rs, err := e.store.ReadResults(ctx, id, afterSeq, MaxResultsPerUpdate)
		if err != nil {
			return Update{}, e.storeFailed(ctx, err)
		}
		if u.Results, err = decodeResults(rs); err != nil {
			return Update{}, err
		}
		u.Position = afterSeq + len(rs)
	}
	return u, nil
}

// stopping reports whether Run has stopped or is stopping.
func (e *Engine) stopping() bool {
	select {
	case <-e.stop:
		return true
	default:
		return false
	}
}
