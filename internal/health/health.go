// Package health tells whether fibergate's store can be reached, so that the parts that
// depend on it stop before doing what they could not record, and resume once it answers
// again: readiness turns NOT_SERVING, starts are refused, pollers pause, watches end.
//
// A Monitor pings the store every second, and at once when a part reports a failed store call
// (Failed). A failed ping marks the store down, a successful one up again. The ping decides,
// not the failed call's error: what a lost connection looks like differs by backend and
// driver, and an error of one call (a connection the server cut, a statement refused) says
// little about the next, while a ping is the one question every backend answers alike.
package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fibergate/fibergate/internal/storage"
)

// ErrStoreUnavailable marks the error of a store call made while the store could not be
// reached (Failed wraps it around the call's own error): the call may succeed once the store
// answers again.
var ErrStoreUnavailable = errors.New("the store cannot be reached")

// Defaults of Config.
const (
	DefaultInterval = time.Second
	DefaultTimeout  = 3 * time.Second
)

// Pinger is a store that can be asked whether it answers. Every storage backend implements
// it (storagetest.Backend).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Config configures a Monitor.
type Config struct {
	// Store is pinged. Required.
	Store Pinger
	// Interval is the time from the end of one ping to the start of the next. Zero means
	// DefaultInterval.
	Interval time.Duration
	// Timeout bounds each ping: a ping without an answer by then fails. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// Logger receives the store's changes between up and down. Nil means slog.Default().
	Logger *slog.Logger
}

// Monitor tells whether the store answers. Create it with New, which takes the store to be up
// (it was just opened), and call Run once; the other methods may be called from any goroutine,
// before, during or after Run.
type Monitor struct {
	store    Pinger
	interval time.Duration
	timeout  time.Duration
	log      *slog.Logger
	kick     chan struct{} // buffered(1): Failed asks for a ping now

	// state is read without a lock (every watch reads it at each step); set replaces it
	// under mu, then closes the old one's changed.
	state atomic.Pointer[verdict]

	mu        sync.Mutex    // guards the fields below, and replacing state
	next      chan struct{} // closed when the next ping to start has ended, or Run returned
	downSince time.Time     // when the store was found down
}

// verdict is what the last ping said.
type verdict struct {
	up      bool
	changed chan struct{} // closed when the next verdict differs
}

// New returns a Monitor of cfg.Store, which it takes to be up until a ping fails.
func New(cfg Config) *Monitor {
	m := &Monitor{
		store: cfg.Store, interval: cfg.Interval, timeout: cfg.Timeout, log: cfg.Logger,
		kick: make(chan struct{}, 1),
		next: make(chan struct{}),
	}
	m.state.Store(&verdict{up: true, changed: make(chan struct{})})
	if m.interval <= 0 {
		m.interval = DefaultInterval
	}
	if m.timeout <= 0 {
		m.timeout = DefaultTimeout
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	return m
}

// Up reports whether the store answered the last ping (true before the first), and returns a
// channel that is closed when that changes. Read both again once it is closed.
func (m *Monitor) Up() (up bool, changed <-chan struct{}) {
	v := m.state.Load()
	return v.up, v.changed
}

// Failed is told that a store call failed with err. It pings the store at once (callers that
// fail together share one ping) and waits for the answer: if the store is down, it returns
// err wrapped with ErrStoreUnavailable, else err as it is. Errors the store answered with
// (storage.ErrNotFound, ErrExists, ErrConflict), errors that already are ErrStoreUnavailable,
// and any error once ctx has ended, are returned as they are without a ping; so is every
// error once Run has returned, unless the store was down then. Before Run, Failed waits for
// its first ping, or for ctx. A nil err returns nil.
func (m *Monitor) Failed(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil || errors.Is(err, ErrStoreUnavailable) ||
		errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrExists) || errors.Is(err, storage.ErrConflict) {
		return err
	}
	m.mu.Lock()
	done := m.next
	m.mu.Unlock()
	select {
	case m.kick <- struct{}{}:
	default: // a ping is asked for already: it starts after done was taken, and ends it
	}
	select {
	case <-done:
	case <-ctx.Done():
		return err
	}
	if up, _ := m.Up(); up {
		return err
	}
	return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
}

// Run pings the store at once, then Interval after the end of each ping and whenever Failed
// asks, until ctx ends; then it returns nil. Call it once.
func (m *Monitor) Run(ctx context.Context) error {
	defer func() {
		m.mu.Lock()
		close(m.next) // nobody pings for those waiting on it any more
		m.mu.Unlock()
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-m.kick:
		}
		m.ping(ctx)
		timer.Reset(m.interval)
	}
}

// ping asks the store once and records its answer, unless ctx ended meanwhile.
func (m *Monitor) ping(ctx context.Context) {
	m.mu.Lock()
	done := m.next
	m.next = make(chan struct{})
	m.mu.Unlock()
	defer close(done)
	pctx, cancel := context.WithTimeout(ctx, m.timeout)
	err := m.store.Ping(pctx)
	cancel()
	if ctx.Err() != nil {
		return // stopping: a ping cut short says nothing of the store
	}
	m.set(err)
}

// set records the verdict of a ping that failed with err (nil: it answered), and logs a
// change.
func (m *Monitor) set(err error) {
	up := err == nil
	m.mu.Lock()
	old := m.state.Load()
	if up == old.up {
		m.mu.Unlock()
		if err != nil {
			m.log.Debug("store still unreachable", "err", err)
		}
		return
	}
	m.state.Store(&verdict{up: up, changed: make(chan struct{})})
	close(old.changed)
	since := m.downSince
	if !up {
		m.downSince = time.Now()
	}
	m.mu.Unlock()
	if up {
		m.log.Info("store reachable again: serving", "down_for", time.Since(since).Round(time.Millisecond))
		return
	}
	m.log.Error("store unreachable: not ready; starts are refused, polls wait and watches end until it answers", "err", err)
}
