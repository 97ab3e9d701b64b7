package tasks

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

// callerRecorder records the budget caller named in the context of every upstream call.
type callerRecorder struct {
	Upstream
	mu             sync.Mutex // guards polls, cancels
	polls, cancels []string
}

func (c *callerRecorder) Poll(ctx context.Context, key string, req fiber.PollRequest) (*fiber.PollResponse, error) {
	c.mu.Lock()
	c.polls = append(c.polls, budget.Caller(ctx))
	c.mu.Unlock()
	return c.Upstream.Poll(ctx, key, req)
}

func (c *callerRecorder) Cancel(ctx context.Context, key, id string) (*fiber.CancelResponse, error) {
	c.mu.Lock()
	c.cancels = append(c.cancels, budget.Caller(ctx))
	c.mu.Unlock()
	return c.Upstream.Cancel(ctx, key, id)
}

func (c *callerRecorder) get() (polls, cancels []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.polls...), append([]string(nil), c.cancels...)
}

// TestUpstreamCallsQueueAsTheTaskOwner: the rate limiter queues callers fairly by the name
// in the context, so the adopting poll and a cancel run as the task's owner, like its polls.
func TestUpstreamCallsQueueAsTheTaskOwner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{Seed: 13, PeoplePerSecond: 1})
		rec := &callerRecorder{Upstream: e.client}
		e.stop()
		e.client2 = rec
		e.startEngine(Policy{})

		resp, err := e.client.Start(testContext(t), testKey, fiberStart(20))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.engine.Get(testContext(t), "bob", resp.TaskID, testKey); err != nil {
			t.Fatalf("adopt: %v", err)
		}
		if _, err := e.engine.Cancel(testContext(t), "bob", resp.TaskID, ""); err != nil {
			t.Fatalf("cancel: %v", err)
		}
		polls, cancels := rec.get()
		if len(polls) == 0 || polls[0] != "bob" {
			t.Errorf("the adopting poll ran as caller %q, want bob", polls)
		}
		if len(cancels) != 1 || cancels[0] != "bob" {
			t.Errorf("the cancel ran as caller %q, want bob", cancels)
		}
	})
}

// urgencyRecorder records, per task, whether each poll was marked urgent for the budget.
type urgencyRecorder struct {
	Upstream
	mu     sync.Mutex // guards urgent
	urgent map[string][]bool
}

func (c *urgencyRecorder) Poll(ctx context.Context, key string, req fiber.PollRequest) (*fiber.PollResponse, error) {
	c.mu.Lock()
	c.urgent[req.TaskID] = append(c.urgent[req.TaskID], budget.Urgent(ctx))
	c.mu.Unlock()
	return c.Upstream.Poll(ctx, key, req)
}

// TestWatchedTasksPollsGoFirst: the polls of a task somebody watches are marked urgent, so the
// rate limiter serves them before those of unwatched tasks; an unwatched task's are not.
func TestWatchedTasksPollsGoFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{Seed: 14, PeoplePerSecond: 100})
		rec := &urgencyRecorder{Upstream: e.client, urgent: map[string][]bool{}}
		e.stop()
		e.client2 = rec
		e.startEngine(Policy{})
		watched, unwatched := e.start(300), e.start(300)
		release := e.engine.hub.watch(watched) // as a WatchTask does, before any poll
		defer release()
		e.waitAll(watched, unwatched)

		rec.mu.Lock()
		defer rec.mu.Unlock()
		for id, want := range map[string]bool{watched: true, unwatched: false} {
			marks := rec.urgent[id]
			if len(marks) == 0 {
				t.Fatalf("task %s was never polled", id)
			}
			for i, u := range marks {
				if u != want {
					t.Errorf("poll %d of the %s task: urgent %v", i+1, map[bool]string{true: "watched", false: "unwatched"}[want], u)
				}
			}
		}
	})
}
