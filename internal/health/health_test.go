package health_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/fibergate/fibergate/internal/health"
	"github.com/fibergate/fibergate/internal/storage"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var errRefused = errors.New("connection refused")

// store is a Pinger whose answer the test sets; it counts its pings.
type store struct {
	mu    sync.Mutex // guards err, hang and pings
	err   error
	hang  bool // pings wait for their context to end
	pings int
}

func (s *store) Ping(ctx context.Context) error {
	s.mu.Lock()
	s.pings++
	err, hang := s.err, s.hang
	s.mu.Unlock()
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

func (s *store) set(err error, hang bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err, s.hang = err, hang
}

func (s *store) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pings
}

// run runs a Monitor of s in the bubble until the test's function returns.
func run(t *testing.T, s *store, interval time.Duration) (*health.Monitor, func()) {
	t.Helper()
	m := health.New(health.Config{Store: s, Interval: interval, Timeout: time.Second, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	return m, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// wantUp checks the monitor's verdict.
func wantUp(t *testing.T, m *health.Monitor, want bool) {
	t.Helper()
	if up, _ := m.Up(); up != want {
		t.Fatalf("Up() = %v, want %v", up, want)
	}
}

// TestMonitorFollowsTheStore: the store is taken to be up from the start; a failed ping marks
// it down, a successful one up again, each change closing the channel Up returned.
func TestMonitorFollowsTheStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &store{}
		m, stop := run(t, s, time.Second)
		defer stop()
		up, changed := m.Up()
		if !up {
			t.Fatal("a new monitor says the store is down")
		}
		synctest.Wait()
		if s.count() != 1 {
			t.Fatalf("%d pings at start, want 1", s.count())
		}

		s.set(errRefused, false)
		time.Sleep(time.Second)
		synctest.Wait()
		select {
		case <-changed:
		default:
			t.Fatal("the store went down and the channel of Up was not closed")
		}
		up, changed = m.Up()
		if up {
			t.Fatal("Up() = true after a failed ping")
		}
		time.Sleep(5 * time.Second) // still down: no change
		synctest.Wait()
		select {
		case <-changed:
			t.Fatal("the channel of Up was closed while the store stayed down")
		default:
		}

		s.set(nil, false)
		time.Sleep(time.Second)
		synctest.Wait()
		select {
		case <-changed:
		default:
			t.Fatal("the store came back and the channel of Up was not closed")
		}
		wantUp(t, m, true)
	})
}

// TestPingTimeout: a ping that gets no answer within the timeout marks the store down.
func TestPingTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &store{}
		s.set(nil, true)
		m, stop := run(t, s, time.Hour)
		defer stop()
		time.Sleep(time.Second - time.Nanosecond)
		synctest.Wait()
		wantUp(t, m, true)
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		wantUp(t, m, false)
	})
}

// TestFailed: a failed call pings the store at once; its error comes back marked
// ErrStoreUnavailable only if the store is down. Errors the store answered with, and calls
// whose context ended, ping nothing.
func TestFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &store{}
		m, stop := run(t, s, time.Hour) // no ping but the first, unless asked
		defer stop()
		synctest.Wait()
		ctx := t.Context()
		callErr := fmt.Errorf("get task: %w", errRefused)

		if err := m.Failed(ctx, callErr); err != callErr {
			t.Errorf("Failed with the store up = %v, want the call's error as it is", err)
		}
		if s.count() != 2 {
			t.Errorf("%d pings, want 2: the first, and one for Failed", s.count())
		}

		for _, err := range []error{nil, storage.ErrNotFound, fmt.Errorf("append: %w", storage.ErrConflict), storage.ErrExists} {
			if got := m.Failed(ctx, err); got != err {
				t.Errorf("Failed(%v) = %v, want it as it is", err, got)
			}
		}
		ended, cancel := context.WithCancel(ctx)
		cancel()
		if got := m.Failed(ended, callErr); got != callErr {
			t.Errorf("Failed with an ended context = %v, want the call's error as it is", got)
		}
		if s.count() != 2 {
			t.Errorf("%d pings, want still 2", s.count())
		}

		s.set(errRefused, false)
		err := m.Failed(ctx, callErr)
		if !errors.Is(err, health.ErrStoreUnavailable) || !errors.Is(err, errRefused) {
			t.Errorf("Failed with the store down = %v, want ErrStoreUnavailable wrapping the call's error", err)
		}
		wantUp(t, m, false)
		if again := m.Failed(ctx, err); again != err {
			t.Errorf("Failed of an ErrStoreUnavailable = %v, want it as it is", again)
		}
	})
}

// TestFailedSharesPings: callers failing together share pings, however many they are.
func TestFailedSharesPings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &store{}
		m, stop := run(t, s, time.Hour)
		defer stop()
		synctest.Wait()
		s.set(nil, true) // the pings hang until their timeout: every caller is waiting meanwhile
		const callers = 50
		var wg sync.WaitGroup
		errs := make(chan error, callers)
		for range callers {
			wg.Go(func() { errs <- m.Failed(t.Context(), errRefused) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if !errors.Is(err, health.ErrStoreUnavailable) {
				t.Errorf("Failed = %v, want ErrStoreUnavailable", err)
			}
		}
		if n := s.count() - 1; n > 2 {
			t.Errorf("%d callers made %d pings, want at most 2", callers, n)
		}
	})
}

// TestFailedAfterRun: once Run has returned, Failed answers at once from the last verdict.
func TestFailedAfterRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &store{}
		m, stop := run(t, s, time.Hour)
		synctest.Wait()
		stop()
		if err := m.Failed(t.Context(), errRefused); err != errRefused {
			t.Errorf("Failed after Run = %v, want the call's error as it is", err)
		}
	})
}

// TestStopDuringPing: a ping cut short by the end of Run changes nothing.
func TestStopDuringPing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &store{}
		s.set(nil, true)
		m, stop := run(t, s, time.Hour)
		synctest.Wait() // the first ping hangs
		stop()
		wantUp(t, m, true)
	})
}
