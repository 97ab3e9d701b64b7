package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// PurgeTurnBackend is a Backend that several processes (replicas) share, and that lets them
// take turns at the periodic purges (PurgeFinished, PurgeRequests), so that each runs once per
// period in the cluster rather than once per replica. RunPurgeTurns tests it. A backend that
// serves one process has no need of it.
type PurgeTurnBackend interface {
	Backend
	// TakePurgeTurn reports whether the caller is to run the purge called name now: true when
	// no caller took a turn of name in the last every, by the backend's own clock (never a
	// replica's), and then it records this turn; false otherwise, and it writes nothing.
	// Names are compared exactly, each with turns of its own. Of concurrent callers at most
	// one gets true. every <= 0 asks for no spacing: the turn is taken.
	TakePurgeTurn(ctx context.Context, name string, every time.Duration) (bool, error)
}

// RunPurgeTurns runs the purge-turn part of the contract, each subtest in parallel on its own
// store; open is as for Run.
func RunPurgeTurns(t *testing.T, open func(t *testing.T) PurgeTurnBackend) {
	tests := []testCase[PurgeTurnBackend]{
		{"Spacing", testPurgeTurnSpacing},
		{"Concurrent", testPurgeTurnConcurrent},
		{"Again", testPurgeTurnAgain},
	}
	runCases(t, open, tests)
}

func mustTakeTurn(ctx context.Context, t *testing.T, s PurgeTurnBackend, name string, every time.Duration, want bool) {
	t.Helper()
	got, err := s.TakePurgeTurn(ctx, name, every)
	if err != nil {
		t.Fatalf("TakePurgeTurn(%q, %v): %v", name, every, err)
	}
	if got != want {
		t.Errorf("TakePurgeTurn(%q, %v) = %v, want %v", name, every, got, want)
	}
}

// testPurgeTurnSpacing: the first turn of a name is taken, and then none within every; other
// names have turns of their own; no spacing asked, the turn is taken.
func testPurgeTurnSpacing(t *testing.T, s PurgeTurnBackend) {
	ctx := testContext(t)
	mustTakeTurn(ctx, t, s, "tasks", time.Hour, true)
	mustTakeTurn(ctx, t, s, "tasks", time.Hour, false)
	mustTakeTurn(ctx, t, s, "tasks", time.Minute, false)
	for _, other := range []string{"requests", "Tasks", "tasks ", ""} {
		mustTakeTurn(ctx, t, s, other, time.Hour, true)
	}
	mustTakeTurn(ctx, t, s, "tasks", 0, true)
	mustTakeTurn(ctx, t, s, "tasks", -time.Hour, true)
	mustTakeTurn(ctx, t, s, "tasks", time.Hour, false)
}

// testPurgeTurnConcurrent: of callers racing for the first turn of a name, exactly one gets
// it.
func testPurgeTurnConcurrent(t *testing.T, s PurgeTurnBackend) {
	ctx := testContext(t)
	for round := range 10 {
		name := fmt.Sprintf("purge-%d", round)
		taken := make([]bool, claimers)
		errs := race(claimers, func(g int) error {
			var err error
			taken[g], err = s.TakePurgeTurn(ctx, name, time.Hour)
			return err
		})
		n := 0
		for g, err := range errs {
			if err != nil {
				t.Fatalf("%s: caller %d: %v", name, g, err)
			}
			if taken[g] {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: %d callers took the first turn, want 1", name, n)
		}
	}
}

// testPurgeTurnAgain: a turn comes again once every has passed since the last, by the
// backend's clock. The loop waits for it, bounded by the test's timeout.
func testPurgeTurnAgain(t *testing.T, s PurgeTurnBackend) {
	ctx := testContext(t)
	const every = 200 * time.Millisecond
	began := time.Now()
	mustTakeTurn(ctx, t, s, "tasks", every, true)
	tick := time.NewTicker(every / 4)
	defer tick.Stop()
	for {
		taken, err := s.TakePurgeTurn(ctx, "tasks", every)
		if err != nil {
			t.Fatalf("TakePurgeTurn: %v", err)
		}
		if taken {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no second turn within %v of the first", time.Since(began))
		case <-tick.C:
		}
	}
	// A store clock that runs with this process's may be a little off it, never by much.
	if since := time.Since(began); since < every-every/4 {
		t.Errorf("a second turn %v after the first, want none before %v", since, every)
	}
}
