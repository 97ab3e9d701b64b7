package tasks

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/storage"
)

// Upstream is what the engine needs of Fiber. *fiber.Client implements it.
type Upstream interface {
	Poll(ctx context.Context, apiKey string, req fiber.PollRequest) (*fiber.PollResponse, error)
	Cancel(ctx context.Context, apiKey, taskID string) (*fiber.CancelResponse, error)
}

// Config holds what an Engine needs.
type Config struct {
	// Store keeps tasks and results. Required.
	Store Store
	// Fiber is polled and cancelled. Required.
	Fiber Upstream
	// DefaultAPIKey is the server's own Fiber key, if any. Never logged.
	DefaultAPIKey string
	// Policy tunes polling; the zero value means the defaults.
	Policy Policy
	// Health tells whether the store can be reached. While it cannot, no poll is sent (its
	// answer could not be stored), pollers wait until it can, watches end with an error
	// matching health.ErrStoreUnavailable, and so do calls whose store call fails. Nil means
	// the store is taken to be always up: its errors are returned as they are.
	Health StoreHealth
	// Retention: finished tasks and their results are purged this long after they end. Zero
	// (or negative) means never.
	Retention time.Duration
	// PurgeTurns, if not nil, is shared by every replica on Store: the purge of finished
	// tasks then runs on one of them per period. Nil means this engine purges every period.
	PurgeTurns PurgeTurns
	// Logger receives operational events. Nil means slog.Default().
	Logger *slog.Logger
	// Leases, if not nil, makes the engine one of the replicas sharing Store: it follows
	// only the tasks whose lease it holds (see the package documentation), and its pollers'
	// writes are fenced by it. Nil: the engine is the store's only one, and follows every
	// unfinished task.
	Leases Leases
	// Replica names this engine among the replicas sharing the store; required with Leases.
	Replica string
	// Signals, if not nil, carries hints between the replicas (see Signals); it is used only
	// with Leases. With it, a watch of a task polled by another replica is woken by that
	// poller's writes, a task watched only elsewhere is polled as watched, and a cancel
	// made elsewhere has the poller poll at once. Nil: such a watch reads the store every
	// RereadInterval, the poller knows only its own replica's watchers, and a cancel made
	// elsewhere shows at the poller's next poll.
	Signals Signals
	// LeaseTTL is how long a lease lasts unless renewed; zero (or negative) means
	// DefaultLeaseTTL. A dead replica's tasks are taken over within LeaseTTL and one claim
	// interval (LeaseTTL/3, at most 2s).
	LeaseTTL time.Duration
}

// Engine follows tasks and serves watchers. Create it with New, then call Run once; the other
// methods may be called from any goroutine, before, during or after Run. Once Run has
// returned, no task is followed any more and watches end with ErrShuttingDown.
type Engine struct {
	store     Store
	health    StoreHealth // nil: always up
	fiber     Upstream
	keys      *keyring
	policy    Policy
	retention time.Duration
	log       *slog.Logger
	hub       *hub
	leases    Leases        // nil: the store's only engine
	replica   string        // with leases
	ttl       time.Duration // of leases
	fence     string        // Update.Fence of the pollers' writes: replica with leases, else ""
	signals   Signals       // with leases; nil: none
	out       *outbox       // what publishLoop is to publish, with signals
	paces     paces         // Fiber's pace per key, shared by the pollers

	purgeTurns PurgeTurns // nil: no other replica purges

	wake chan struct{}  // buffered(1): a task was queued for Run to start its poller
	stop chan struct{}  // closed when Run stops: watches end with ErrShuttingDown
	wg   sync.WaitGroup // counts pollers and Run's lease and signal loops; only Run adds to it and waits on it

	mu         sync.Mutex              // guards pollers, queued, unrecorded, held and stopped
	pollers    map[string]bool         // tasks whose poller runs or is queued
	queued     []string                // tasks whose poller Run is to start
	unrecorded map[string]storage.Task // tasks Track could not store: their pollers store them first
	held       map[string]*lease       // with leases: the tasks whose lease this replica holds
	stopped    bool
}

// New returns an Engine. It starts nothing: tasks tracked or adopted before Run are followed
// once Run runs. It panics if cfg has Leases without a Replica.
func New(cfg Config) *Engine {
	if cfg.Leases != nil && cfg.Replica == "" {
		panic("tasks: Config.Leases needs a Replica")
	}
	e := &Engine{
		store:     cfg.Store,
		health:    cfg.Health,
		fiber:     cfg.Fiber,
		keys:      newKeyring(cfg.DefaultAPIKey),
		policy:    cfg.Policy.withDefaults(),
		retention: cfg.Retention,
		log:       cfg.Logger,
		hub:       newHub(),
		wake:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		pollers:   map[string]bool{},

		unrecorded: map[string]storage.Task{},
		purgeTurns: cfg.PurgeTurns,
		held:       map[string]*lease{},
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if cfg.Leases != nil {
		e.leases, e.replica, e.fence, e.ttl = cfg.Leases, cfg.Replica, cfg.Replica, cfg.LeaseTTL
		if cfg.Signals != nil {
			e.signals, e.out = cfg.Signals, newOutbox()
		}
		if e.ttl <= 0 {
			e.ttl = DefaultLeaseTTL
		}
	}
	return e
}

// Run follows every unfinished stored task whose Fiber key is known, and every task tracked or
// adopted before or during it, each in a poller goroutine under ctx; it purges expired tasks
// periodically. With Leases, it follows only the tasks whose lease it holds: it claims free
// ones periodically, renews its leases by heartbeat, and releases them when it stops; with
// Signals too, it listens for the other replicas' signals and publishes its own. It
// blocks until ctx ends; then it ends every watch and returns once all pollers have returned.
func (e *Engine) Run(ctx context.Context) error {
	defer e.shutdown()
	if e.leases != nil {
		e.wg.Add(2)
		go func() {
			defer e.wg.Done()
			e.claimLoop(ctx)
		}()
		go func() {
			defer e.wg.Done()
			e.heartbeat(ctx)
		}()
		if e.signals != nil {
			e.wg.Add(2)
			go func() {
				defer e.wg.Done()
				e.listenLoop(ctx)
			}()
			go func() {
				defer e.wg.Done()
				e.publishLoop(ctx)
			}()
		}
	} else if err := e.resume(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	every := time.Hour
	if e.retention > 0 {
		every = min(e.retention/10, every)
	}
	for wait := time.Duration(0); ; wait = every {
		if !e.startPollers(ctx, wait) {
			return nil
		}
		e.purge(ctx, every)
	}
}

// resume has Run follow every unfinished stored task whose Fiber key is known.
func (e *Engine) resume(ctx context.Context) error {
	unfinished, err := e.store.ListUnfinished(ctx)
	if err != nil {
		return err
	}
	for _, t := range unfinished {
		if _, ok := e.keys.get(t.KeyID); !ok {
			e.log.Warn("task waits for its Fiber key: a request carrying it resumes polling", "task_id", t.ID, "key_id", t.KeyID)
			continue
		}
		e.spawn(t.ID)
	}
	if len(unfinished) > 0 {
		e.log.Info("resumed unfinished tasks", "count", len(unfinished))
	}
	return nil
}

// startPollers starts the pollers of queued tasks under ctx, as they are queued, until d has
// passed (true) or ctx ends (false).
func (e *Engine) startPollers(ctx context.Context, d time.Duration) bool {
	tick := time.NewTimer(d)
	defer tick.Stop()
	for {
		e.mu.Lock()
		ids := e.queued
		e.queued = nil
		e.mu.Unlock()
		for _, id := range ids {
			e.wg.Add(1)
			go e.poll(ctx, id)
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
			return true
		case <-e.wake:
		}
	}
}

// purge removes the tasks finished longer than the retention ago, every being how often it
// is called, unless it is another replica's turn.
func (e *Engine) purge(ctx context.Context, every time.Duration) {
	if e.retention <= 0 {
		return // finished tasks are kept
	}
	if !e.takePurgeTurn(ctx, every) {
		return
	}
	n, err := e.store.PurgeFinished(ctx, time.Now().Add(-e.retention))
	switch {
	case err != nil && ctx.Err() == nil:
		e.log.Error("purge finished tasks", "err", err)
	case n > 0:
		e.log.Info("purged finished tasks past retention", "count", n, "retention", e.retention)
	}
}

func (e *Engine) shutdown() {
	e.mu.Lock()
	e.stopped = true
	e.mu.Unlock()
	close(e.stop)
	e.wg.Wait()
	if e.leases != nil {
		e.releaseAll()
	}
	// The tasks Track could not store whose pollers never ran: queued as Run stopped, or
	// waiting for the poller of another task with their id.
	e.mu.Lock()
	lost := slices.SortedFunc(maps.Values(e.unrecorded), func(a, b storage.Task) int { return strings.Compare(a.ID, b.ID) })
	clear(e.unrecorded)
	e.mu.Unlock()
	for _, t := range lost {
		e.logLost(t)
	}
}

// spawn has Run start the task's poller, unless one runs or is queued, or the engine stopped.
// It never blocks.
func (e *Engine) spawn(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped || e.pollers[id] {
		return
	}
	e.pollers[id] = true
	e.queued = append(e.queued, id)
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// poll runs the task's poller until it returns; ctx is Run's.
func (e *Engine) poll(ctx context.Context, id string) {
	defer e.wg.Done()
	defer func() {
		e.mu.Lock()
		delete(e.pollers, id)
		// Track left a task with this id while this poller followed another; or the claim
		// loop claimed the task anew while this poller stopped for losing its lease.
		_, waiting := e.unrecorded[id]
		l := e.held[id]
		claimed := l != nil && l.cancel == nil
		e.mu.Unlock()
		if e.leases != nil {
			e.hub.invalidate(id) // watchers here read the store from now on (see Watch)
		}
		if waiting || claimed {
			e.spawn(id)
		}
	}()
	err := e.follow(ctx, id)
	switch {
	case err == nil || errors.Is(err, context.Canceled):
	case errors.Is(err, storage.ErrLeaseLost):
		e.log.Warn("the task's lease was lost: its poller stops, another replica polls it", "task_id", id, "err", err)
	default:
		e.log.Error("poller stopped", "task_id", id, "err", err)
	}
}

// polling reports whether this engine runs (or is about to run) the task's poller.
func (e *Engine) polling(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pollers[id]
}
