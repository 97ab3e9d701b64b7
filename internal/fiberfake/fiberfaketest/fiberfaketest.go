// Package fiberfaketest helps tests run the Fiber simulator, closed when the
// test ends: on a loopback port (NewServer), or over in-memory connections
// that a testing/synctest bubble can run (NewPipeServer), where the
// simulator's time is the bubble's clock.
package fiberfaketest

import (
	"testing"

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
