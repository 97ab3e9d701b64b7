package tasks

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/storage/sqlite"
)

// turnsGrantedBy is a PurgeTurns that grants a turn when grant says so, and records what it
// was asked.
type turnsGrantedBy struct {
	mu    sync.Mutex // guards grant and asked
	grant bool
	asked []string
	every []time.Duration
}

func (p *turnsGrantedBy) TakePurgeTurn(_ context.Context, name string, every time.Duration) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, name)
	p.every = append(p.every, every)
	return p.grant, nil
}

func (p *turnsGrantedBy) set(grant bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.grant = grant
}

// TestRunPurgesOnlyOnItsTurn: with PurgeTurns, the engine asks for the turn at every purge,
// for nine tenths of its period, and purges only when it gets it.
func TestRunPurgesOnlyOnItsTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tasks.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		t0 := time.Now().Add(-365 * 24 * time.Hour)
		task := storage.Task{ID: "finished", Owner: "alice", KeyID: fiber.KeyID("sk-nobody"), State: storage.StateRunning, CreateTime: t0, UpdateTime: t0}
		if err := store.CreateTask(ctx, task); err != nil {
			t.Fatal(err)
		}
		if err := store.AppendResults(ctx, "finished", 0, nil, storage.Update{State: storage.StateSucceeded, UpdateTime: t0, FinishTime: t0}); err != nil {
			t.Fatal(err)
		}
		exists := func() bool {
			t.Helper()
			_, err := store.GetTask(ctx, "finished")
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				t.Fatal(err)
			}
			return err == nil
		}

		turns := &turnsGrantedBy{}
		const retention = time.Hour
		const every = retention / 10 // the engine's purge period
		e := New(Config{Store: store, Retention: retention, PurgeTurns: turns})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- e.Run(runCtx) }()

		// Purges at 0, 6 and 12 minutes: another replica's turns, nothing purged here.
		for i := range 3 {
			if i > 0 {
				time.Sleep(every)
			}
			synctest.Wait() // the purge due is done
			if !exists() {
				t.Fatal("the engine purged without its turn")
			}
		}
		// The purge at 18 minutes gets the turn.
		time.Sleep(every / 2)
		turns.set(true)
		time.Sleep(every / 2)
		synctest.Wait()
		if exists() {
			t.Error("the engine did not purge on its turn")
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}

		turns.mu.Lock()
		defer turns.mu.Unlock()
		if len(turns.asked) != 4 {
			t.Errorf("asked for the turn %d times in 3 periods, want 4 (once a period, from the start)", len(turns.asked))
		}
		for i := range turns.asked {
			if turns.asked[i] != purgeTurnName || turns.every[i] != every-every/10 {
				t.Errorf("turn %d asked for %q every %v, want %q every %v", i, turns.asked[i], turns.every[i], purgeTurnName, every-every/10)
			}
		}
	})
}
