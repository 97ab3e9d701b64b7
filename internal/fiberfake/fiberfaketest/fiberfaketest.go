// Package fiberfaketest helps tests run the Fiber simulator, closed when the
// test ends: on a loopback port (NewServer), or over in-memory connections
// that a testing/synctest bubble can run (NewPipeServer). It also has a clock
// the test moves by hand.
package fiberfaketest

import (
	"sync"
	"testing"
	"time"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

// NewServer starts a simulator for cfg on a loopback port and returns it with
// its base URL (like "http://127.0.0.1:4321"), which serves both the Fiber API
// and the simulator's admin routes. The server is closed by tb.Cleanup.
func NewServer(tb testing.TB, cfg fiberfake.Config) (*fiberfake.Sim, string) {
	tb.Helper()
	sim, baseURL, err := fiberfake.Start(cfg)
	if err != nil {
		tb.Fatalf("start fiber simulator: %v", err)
	}
	tb.Cleanup(func() {
		if err := sim.Close(); err != nil {
			tb.Errorf("close fiber simulator: %v", err)
		}
	})
	return sim, baseURL
}

// Clock is a fiberfake.Clock that only moves when told. It is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (backward if d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

var _ fiberfake.Clock = (*Clock)(nil)
