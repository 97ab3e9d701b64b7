package tasks

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/storage"
)

// phantomFiber stands in for a Fiber whose stats count people its pages never return: paged
// people finish at pace per second from start on, and numFailed counts phantom more from the
// start. Cursors are "c<offset>", null when caught up. It refuses (404) a poll that comes
// sooner than minGap after an answer that was not a full page with a new cursor, and records
// it: that is a hot loop.
type phantomFiber struct {
	start           time.Time
	people, phantom int
	pace            float64
	minGap          time.Duration
	mu              sync.Mutex // guards the fields below
	polls           int
	last            time.Time
	lastFull        bool
	violation       string
}

func (f *phantomFiber) Poll(_ context.Context, _ string, req fiber.PollRequest) (*fiber.PollResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	f.polls++
	if f.polls > 1 && !f.lastFull && now.Sub(f.last) < f.minGap {
		f.violation = fmt.Sprintf("poll %d came %v after a page that was not full", f.polls, now.Sub(f.last))
		return nil, &fiber.Error{Kind: fiber.KindNotFound, Endpoint: fiber.EndpointPoll, StatusCode: 404, Message: "hot loop"}
	}
	completed := min(f.people, int(now.Sub(f.start).Seconds()*f.pace))
	from := 0
	if req.Cursor != nil {
		from, _ = strconv.Atoi((*req.Cursor)[1:])
	}
	end := min(from+req.Take, completed)
	resp := &fiber.PollResponse{
		Stats: fiber.OverallStats{TotalPeopleToFetch: f.people + f.phantom, NumCompleted: completed, NumFailed: f.phantom, NumRemaining: f.people - completed},
		Done:  completed == f.people,
	}
	for i := from; i < end; i++ {
		resp.Results = append(resp.Results, fiber.PersonResult{LinkedInURL: fmt.Sprintf("https://www.linkedin.com/in/person-%d", i)})
	}
	if end < completed {
		c := "c" + strconv.Itoa(end)
		resp.NextCursor = &c
	}
	f.last, f.lastFull = now, len(resp.Results) == req.Take && resp.NextCursor != nil
	return resp, nil
}

func (f *phantomFiber) Cancel(context.Context, string, string) (*fiber.CancelResponse, error) {
	return nil, &fiber.Error{Kind: fiber.KindBadRequest, Endpoint: fiber.EndpointCancel, StatusCode: 400}
}

// TestStatsCountingUnpagedPeopleDoNotMakeAHotLoop: Fiber's stats say more people finished than
// its pages ever return, so they always claim a full page waits; the poller still waits at
// least MinInterval after every page that was not full, and fetches every paged result.
func TestStatsCountingUnpagedPeopleDoNotMakeAHotLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{Seed: 15})
		policy := Policy{}.withDefaults()
		stand := &phantomFiber{start: time.Now(), people: 300, phantom: 150, pace: 50, minGap: policy.MinInterval}
		e.stop()
		e.client2 = stand
		e.startEngine(Policy{})
		out := &cdv1.StartBatchResponse{Output: &cdv1.StartBatchOutput{TaskId: "phantom-task", NumPeopleEnqueued: 450}}
		if _, err := e.engine.Track(testContext(t), "alice", testKey, out, storage.Enrichment{WorkEmails: true}); err != nil {
			t.Fatal(err)
		}
		e.waitFinished("phantom-task")

		stand.mu.Lock()
		violation, polls := stand.violation, stand.polls
		stand.mu.Unlock()
		if violation != "" {
			t.Fatal(violation)
		}
		task, err := e.store.GetTask(testContext(t), "phantom-task")
		if err != nil {
			t.Fatal(err)
		}
		if task.State != storage.StateSucceeded || task.NumResults != 300 {
			t.Fatalf("task ended %v with %d results, want SUCCEEDED with 300", task.State, task.NumResults)
		}
		t.Logf("300 paged results (and 150 counted, never paged) in %d polls over %v", polls, time.Since(stand.start))
	})
}
