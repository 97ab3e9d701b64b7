package tasks

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/storage"
)

// pollTimes records when each poll was sent.
type pollTimes struct {
	Upstream
	mu sync.Mutex // guards at
	at []time.Time
}

func (p *pollTimes) Poll(ctx context.Context, key string, req fiber.PollRequest) (*fiber.PollResponse, error) {
	p.mu.Lock()
	p.at = append(p.at, time.Now())
	p.mu.Unlock()
	return p.Upstream.Poll(ctx, key, req)
}

// TestAdoptedTaskIsPolledAtOnceAndPacedByNewProgress adopts a task that Fiber has been
// working on for 12 s at 10 people/s: its poller polls at once (not FirstPoll later), and
// the 120 people finished before fibergate knew the task do not count as pace, which would
// make it poll many times too often.
func TestAdoptedTaskIsPolledAtOnceAndPacedByNewProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{Seed: 16, PeoplePerSecond: 10})
		rec := &pollTimes{Upstream: e.client}
		e.stop()
		e.client2 = rec
		e.startEngine(Policy{})
		resp, err := e.client.Start(testContext(t), testKey, fiberStart(200))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(12 * time.Second) // Fiber works on the task, unknown to the engine
		adopted := time.Now()
		if _, err := e.engine.Get(testContext(t), "bob", resp.TaskID, testKey); err != nil {
			t.Fatalf("adopt: %v", err)
		}
		e.waitFinished(resp.TaskID)

		task, err := e.store.GetTask(testContext(t), resp.TaskID)
		if err != nil {
			t.Fatal(err)
		}
		if task.State != storage.StateSucceeded || task.NumResults != 200 {
			t.Fatalf("task ended %v with %d results, want SUCCEEDED with 200", task.State, task.NumResults)
		}
		rec.mu.Lock()
		at := rec.at
		rec.mu.Unlock()
		var offsets []time.Duration
		for _, a := range at {
			offsets = append(offsets, a.Sub(adopted))
		}
		t.Logf("polls after adoption (the first is adopt's own): %v", offsets)
		if len(at) < 2 || !at[1].Equal(adopted) {
			t.Errorf("the poller's first poll came %v after the adoption, want at once", offsets)
		}
		// The 80 people left take 8 s at Fiber's pace: the first poll drains what is finished,
		// one more measures the pace, then one when a page should wait and one at the end.
		if n := len(at) - 1; n > 6 {
			t.Errorf("the poller polled %d times for 80 people at 10/s: %v", n, offsets)
		}
	})
}
