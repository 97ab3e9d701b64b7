package tasks

import (
	"sync"
	"time"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/storage"
)

// hub wakes the watchers of tasks when their stored state changes, and tells pollers whether
// anybody watches, here or (as signals say) on another replica. It never blocks a producer:
// a change closes a channel that waiters select on. Safe for concurrent use.
type hub struct {
	mu    sync.Mutex // guards tasks
	tasks map[string]*taskHub
}

type taskHub struct {
	changed   chan struct{}        // closed and replaced on every change
	watchers  int                  // here
	elsewhere map[string]time.Time // replica -> until when its watchers make the task watched
	kick      chan struct{}        // buffered(1): the first watcher came (here or elsewhere); shorten the wait
	pollNow   chan struct{}        // buffered(1): poll at once (after a cancel)
	finished  bool                 // the poller is done: drop the entry with the last watcher
	last      *snapshot            // the latest write, for watchers that are caught up
}

// snapshot is what one store write added: the task after it and the results it appended
// (sequence numbers from+1..). Read-only once published; shared by watchers.
type snapshot struct {
	task    storage.Task
	from    int
	results []*cdv1.PersonResult
}

func newHub() *hub { return &hub{tasks: map[string]*taskHub{}} }

// get returns the task's entry, creating it. Callers hold h.mu.
func (h *hub) get(id string) *taskHub {
	t := h.tasks[id]
	if t == nil {
		t = &taskHub{changed: make(chan struct{}), kick: make(chan struct{}, 1), pollNow: make(chan struct{}, 1)}
		h.tasks[id] = t
	}
	return t
}

// notify wakes everybody waiting on the task. snap, if not nil, is what the write that
// caused the change stored, so caught-up watchers need not read the store.
func (h *hub) notify(id string, snap *snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.get(id)
	t.last = snap
	close(t.changed)
	t.changed = make(chan struct{})
}

// invalidate wakes everybody waiting on the task and drops its latest snapshot, which this
// process's writes no longer keep current: watchers read the store. It leaves a task with no
// entry alone.
func (h *hub) invalidate(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.tasks[id]; t != nil {
		t.last = nil
		close(t.changed)
		t.changed = make(chan struct{})
	}
}

// invalidateAll invalidates every task's entry (see invalidate).
func (h *hub) invalidateAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range h.tasks {
		t.last = nil
		close(t.changed)
		t.changed = make(chan struct{})
	}
}

// latest returns a channel closed at the task's next change, and the snapshot of its latest
// write (nil if unknown). Take both before deciding what to read.
func (h *hub) latest(id string) (<-chan struct{}, *snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.get(id)
	return t.changed, t.last
}

// signals returns the channels on which the task's poller is told that a first watcher came
// (kick) and that it should poll at once (now).
func (h *hub) signals(id string) (kick, now <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.get(id)
	return t.kick, t.pollNow
}

// pollSoon asks the task's poller to poll at once; it never blocks.
func (h *hub) pollSoon(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case h.get(id).pollNow <- struct{}{}:
	default:
	}
}

// watch registers a watcher and returns its release func. The first watcher kicks the poller.
// Once the task is finished (forget), the last release drops the entry.
func (h *hub) watch(id string) (release func()) {
	h.mu.Lock()
	t := h.get(id)
	t.watchers++
	if t.watchers == 1 {
		select {
		case t.kick <- struct{}{}:
		default:
		}
	}
	h.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			t.watchers--
			if t.watchers == 0 && t.finished && h.tasks[id] == t {
				delete(h.tasks, id)
			}
			h.mu.Unlock()
		})
	}
}

// watched reports whether anybody watches the task, here or on another replica.
func (h *hub) watched(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.tasks[id]
	return t != nil && t.watchedLocked(time.Now())
}

// watchedLocked reports whether anybody watches the task at now, forgetting the other
// replicas' watchers that expired. Callers hold the hub's mu.
func (t *taskHub) watchedLocked(now time.Time) bool {
	if t.watchers > 0 {
		return true
	}
	for r, until := range t.elsewhere {
		if until.After(now) {
			return true
		}
		delete(t.elsewhere, r)
	}
	return false
}

// watchedElsewhere records that replica has watchers of the task until until (unless it
// says so again). A task nobody watched before kicks its poller, as a first watcher here does.
func (h *hub) watchedElsewhere(id, replica string, until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.get(id)
	was := t.watchedLocked(time.Now())
	if t.elsewhere == nil {
		t.elsewhere = map[string]time.Time{}
	}
	t.elsewhere[replica] = until
	if !was {
		select {
		case t.kick <- struct{}{}:
		default:
		}
	}
}

// watchedHere returns the tasks that have watchers in this process.
func (h *hub) watchedHere() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []string
	for id, t := range h.tasks {
		if t.watchers > 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

// forget drops a task's entry once nobody needs it: the task is finished or deleted.
func (h *hub) forget(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.tasks[id]; t != nil {
		t.finished = true
		if t.watchers == 0 {
			delete(h.tasks, id)
		}
	}
}
