package service

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// alternateTurns is a PurgeTurns that grants every other turn, from the second on, and
// records what it was asked.
type alternateTurns struct {
	mu    sync.Mutex // guards asked and every
	asked []string
	every []time.Duration
}

func (p *alternateTurns) TakePurgeTurn(_ context.Context, name string, every time.Duration) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, name)
	p.every = append(p.every, every)
	return len(p.asked)%2 == 0, nil
}

// TestRunPurgesOnlyOnItsTurn: with PurgeTurns, Run asks for the turn every hour, for nine
// tenths of it, and purges the expired request ids only on the turns it gets.
func TestRunPurgesOnlyOnItsTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reqs, turns := &purgeRecorder{}, &alternateTurns{}
		svc := New(Config{Requests: reqs, PurgeTurns: turns, Logger: slog.New(slog.DiscardHandler)})
		ctx, cancel := context.WithCancel(t.Context())
		t0 := time.Now()
		done := make(chan error, 1)
		go func() { done <- svc.Run(ctx) }()

		time.Sleep(3*time.Hour + time.Minute)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v, want nil", err)
		}
		turns.mu.Lock()
		defer turns.mu.Unlock()
		if len(turns.asked) != 4 {
			t.Errorf("asked for the turn %d times in 3 hours, want 4", len(turns.asked))
		}
		for i := range turns.asked {
			if turns.asked[i] != purgeTurnName || turns.every[i] != 54*time.Minute {
				t.Errorf("turn %d: asked for %q every %v, want %q every 54m", i, turns.asked[i], turns.every[i], purgeTurnName)
			}
		}
		reqs.mu.Lock()
		defer reqs.mu.Unlock()
		want := []time.Time{t0.Add(time.Hour), t0.Add(3 * time.Hour)} // the turns granted
		if len(reqs.cutoffs) != len(want) {
			t.Fatalf("purged with cutoffs %v, want %v", reqs.cutoffs, want)
		}
		for i := range want {
			if !reqs.cutoffs[i].Equal(want[i]) {
				t.Errorf("purge %d: cutoff %v, want %v", i, reqs.cutoffs[i], want[i])
			}
		}
	})
}
