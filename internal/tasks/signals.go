package tasks

import (
	"context"
	"sync"
	"time"

	"github.com/fibergate/fibergate/internal/storage"
)

// Signals carries hints between the replicas sharing a store (storage.Signal): that a
// task's poller stored a change, that a task is watched, that a task was cancelled. A hint
// only makes a replica look at the store sooner; a lost one costs time, never data. The
// postgres store implements it with LISTEN/NOTIFY.
//
// What the engine relies on:
//   - Publish sends sig to every replica listening, the sender included, in the order of
//     the sender's calls; it may fail or lose the signal.
//   - Listen calls handle on the goroutine that called it, first with a storage.SignalResync once it
//     listens, then with every signal published afterwards by any replica, until ctx ends
//     (it returns nil) or the subscription is lost (it returns an error; signals published
//     meanwhile are lost, and a new Listen starts with a SignalResync again). handle must
//     not block.
//
// Its methods must be safe for concurrent use.
type Signals interface {
	Publish(ctx context.Context, sig storage.Signal) error
	Listen(ctx context.Context, handle func(storage.Signal)) error
}

const (
	// watchBeat is how often a replica tells the others again which tasks it has watchers
	// of, among those it does not poll.
	watchBeat = 2 * time.Second
	// watchedFor is how long a storage.SignalWatched makes a task watched on its poller's
	// replica: a few beats, so that one lost signal changes nothing, and the task of a
	// replica that died is unwatched soon.
	watchedFor = 3 * watchBeat
	// publishTimeout bounds one Publish.
	publishTimeout = time.Second
	// maxListenRetry caps the wait before listening again after the subscription was lost.
	maxListenRetry = 10 * time.Second
)

// outbox queues the signals this replica is to publish, in order and each once: signals are
// hints, so two alike pending at once say no more than one. Safe for concurrent use; add never
// blocks.
type outbox struct {
	mu      sync.Mutex // guards pending and queued
	pending []storage.Signal
	queued  map[storage.Signal]bool
	ready   chan struct{} // buffered(1): pending is not empty
}

func newOutbox() *outbox {
	return &outbox{queued: map[storage.Signal]bool{}, ready: make(chan struct{}, 1)}
}

func (o *outbox) add(sig storage.Signal) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.queued[sig] {
		return
	}
	o.queued[sig] = true
	o.pending = append(o.pending, sig)
	select {
	case o.ready <- struct{}{}:
	default:
	}
}

// take returns the pending signals and empties the outbox.
func (o *outbox) take() []storage.Signal {
	o.mu.Lock()
	defer o.mu.Unlock()
	sigs := o.pending
	o.pending = nil
	clear(o.queued)
	return sigs
}

// signal has the publisher send a signal of kind about task id to the other replicas, if there
// are signals. It never blocks.
func (e *Engine) signal(kind storage.SignalKind, id string) {
	if e.signals != nil {
		e.out.add(storage.Signal{Kind: kind, Replica: e.replica, Task: id})
	}
}

// publishLoop publishes what the outbox receives, and every watchBeat that this replica has
// watchers of the tasks it does not poll, until ctx ends. A failed Publish drops the signals
// taken with it: they were hints, and the store has the truth.
func (e *Engine) publishLoop(ctx context.Context) {
	beat := time.NewTicker(watchBeat)
	defer beat.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.out.ready:
		case <-beat.C:
			for _, id := range e.hub.watchedHere() {
				if !e.polling(id) {
					e.signal(storage.SignalWatched, id)
				}
			}
		}
		sigs := e.out.take()
		for i, sig := range sigs {
			pctx, cancel := context.WithTimeout(ctx, publishTimeout)
			err := e.signals.Publish(pctx, sig)
			cancel()
			if err == nil {
				if failing {
					e.log.Info("publishing signals to the other replicas again")
					failing = false
				}
				continue
			}
			if ctx.Err() != nil {
				return
			}
			if !failing {
				e.log.Warn("publishing a signal to the other replicas failed: they see the change at their next read of the store",
					"kind", sig.Kind, "task_id", sig.Task, "dropped", len(sigs)-i, "err", err)
				failing = true
			}
			break
		}
	}
}

// listenLoop listens for the other replicas' signals until ctx ends, listening again with
// backoff whenever the subscription is lost.
func (e *Engine) listenLoop(ctx context.Context) {
	failures := 0
	handle := func(sig storage.Signal) {
		if sig.Kind == storage.SignalResync {
			if failures > 0 {
				e.log.Info("listening for the other replicas' signals again")
			}
			failures = 0
		}
		e.onSignal(sig)
	}
	for {
		err := e.signals.Listen(ctx, handle)
		if ctx.Err() != nil {
			return
		}
		failures++
		wait := min(e.policy.backoff(failures), maxListenRetry)
		e.log.Warn("listening for the other replicas' signals stopped; retrying: meanwhile watchers of tasks polled elsewhere read the store every "+RereadInterval.String(),
			"attempt", failures, "wait", wait, "err", err)
		if !e.sleep(ctx, wait) {
			return
		}
	}
}

// onSignal acts on a signal: it never blocks. The replica's own signals were acted on when
// sent.
func (e *Engine) onSignal(sig storage.Signal) {
	if sig.Kind == storage.SignalResync {
		e.hub.invalidateAll() // what was missed: every watcher reads the store
		return
	}
	if sig.Replica == e.replica {
		return
	}
	switch sig.Kind {
	case storage.SignalResults:
		e.hub.invalidate(sig.Task)
	case storage.SignalWatched:
		if e.polling(sig.Task) {
			e.hub.watchedElsewhere(sig.Task, sig.Replica, time.Now().Add(watchedFor))
		}
	case storage.SignalPollNow:
		if e.polling(sig.Task) {
			e.hub.pollSoon(sig.Task)
		}
	}
}
