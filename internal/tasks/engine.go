package tasks

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/fibergate/fibergate/internal/fiber"
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
	// Retention: finished tasks older than this are purged. Zero means 30 days; negative
	// means never.
	Retention time.Duration
	// Logger receives operational events. Nil means slog.Default().
	Logger *slog.Logger
	// Clock times polls; nil means the wall clock.
	Clock Clock
}

// Engine follows tasks and serves watchers. Create it with New, then call Run once; the other
// methods may be called from any goroutine, before or during Run.
type Engine struct {
	store     Store
	fiber     Upstream
	keys      *keyring
	policy    Policy
	retention time.Duration
	log       *slog.Logger
	clock     Clock
	hub       *hub

	ctx    context.Context // ends when Run's context ends; pollers run under it
	cancel context.CancelFunc
	wg     sync.WaitGroup // counts pollers

	mu      sync.Mutex // guards pollers and stopped
	pollers map[string]bool
	stopped bool
}

// New returns an Engine. Pollers only start with Run.
func New(cfg Config) *Engine {
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{
		store:     cfg.Store,
		fiber:     cfg.Fiber,
		keys:      newKeyring(cfg.DefaultAPIKey),
		policy:    cfg.Policy.withDefaults(),
		retention: cfg.Retention,
		log:       cfg.Logger,
		clock:     cfg.Clock,
		hub:       newHub(),
		ctx:       ctx,
		cancel:    cancel,
		pollers:   map[string]bool{},
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.clock == nil {
		e.clock = realClock{}
	}
	if e.retention == 0 {
		e.retention = 30 * 24 * time.Hour
	}
	return e
}

// Run resumes the pollers of every unfinished stored task, purges expired tasks periodically,
// and blocks until ctx ends; then it stops every poller, ends every watch, and returns once
// all pollers have returned.
func (e *Engine) Run(ctx context.Context) error {
	defer e.shutdown()
	unfinished, err := e.store.ListUnfinished(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
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
	every := time.Hour
	if e.retention > 0 {
		every = min(e.retention/10, every)
	}
	for {
		e.purge(ctx)
		tick, stop := e.clock.NewTimer(every) // the engine's clock, so tests can move it
		select {
		case <-ctx.Done():
			stop()
			return nil
		case <-tick:
		}
	}
}

func (e *Engine) purge(ctx context.Context) {
	if e.retention < 0 {
		return // finished tasks are kept
	}
	n, err := e.store.PurgeFinished(ctx, e.now().Add(-e.retention))
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
	e.cancel()
	e.wg.Wait()
}

// spawn starts the task's poller unless one runs or the engine stopped.
func (e *Engine) spawn(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped || e.pollers[id] {
		return
	}
	e.pollers[id] = true
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer func() {
			e.mu.Lock()
			delete(e.pollers, id)
			e.mu.Unlock()
		}()
		if err := e.follow(e.ctx, id); err != nil && !errors.Is(err, context.Canceled) {
			e.log.Error("poller stopped", "task_id", id, "err", err)
		}
	}()
}

// now is the engine clock's time.
func (e *Engine) now() time.Time { return e.clock.Now() }
