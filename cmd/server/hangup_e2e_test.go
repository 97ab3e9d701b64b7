package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/storage/sqlite"
)

// TestCallerHangingUpMidStartDoesNotOrphanThePaidTask: once a start has been sent to Fiber,
// fibergate sees it through to Fiber's answer whatever the caller does. A caller that cancels
// right after the request reached Fiber, and one whose deadline passes while Fiber is slow,
// each leave exactly one start at Fiber, a task that is recorded and followed to the end, and
// no RECONCILE record; a retry with the same request_id gets the original answer, and a caller
// who never retries finds the task in ListTasks.
func TestCallerHangingUpMidStartDoesNotOrphanThePaidTask(t *testing.T) {
	for _, c := range []struct {
		name      string
		requestID string
		// hangUp makes the call's context end while Fiber holds the start.
		hangUp func(ctx context.Context, sim *fiberfake.Sim) (context.Context, func())
		want   codes.Code
	}{
		{
			name:      "cancel after sending, retried with its request_id",
			requestID: "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
			hangUp: func(ctx context.Context, sim *fiberfake.Sim) (context.Context, func()) {
				ctx, cancel := context.WithCancel(ctx)
				go func() {
					defer cancel()
					pollUntil(ctx, func() bool { return sim.Stats().Endpoints[fiberfake.EndpointStart].Calls > 0 })
				}()
				return ctx, cancel
			},
			want: codes.Canceled,
		},
		{
			name: "deadline passes while Fiber is slow, never retried",
			hangUp: func(ctx context.Context, _ *fiberfake.Sim) (context.Context, func()) {
				return context.WithTimeout(ctx, 300*time.Millisecond)
			},
			want: codes.DeadlineExceeded,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			sim, url := newUpstream(t)
			store := filepath.Join(t.TempDir(), "fibergate.db")
			p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url, "-store", "sqlite:"+store)
			client := p.dial(t)
			// Fiber holds the start for a while, then starts the task and answers.
			const slow = 1500 * time.Millisecond
			if err := sim.InjectFault(fiberfake.Fault{Endpoint: fiberfake.EndpointStart, Kind: fiberfake.FaultDelay, Delay: slow, Count: 1}); err != nil {
				t.Fatal(err)
			}
			urls := []string{"https://www.linkedin.com/in/hangup-a", "https://www.linkedin.com/in/hangup-b"}

			ctx, stop := c.hangUp(testContext(t), sim)
			began := time.Now()
			_, err := client.StartBatch(ctx, idempotentStart(c.requestID, urls...))
			stop()
			if got := status.Code(err); got != c.want {
				t.Fatalf("hung-up start: %v, want %v", err, c.want)
			}

			var taskID string
			if c.requestID != "" {
				// The retry waits for the first request, then gets its answer.
				resp, err := client.StartBatch(testContext(t), idempotentStart(c.requestID, urls...))
				if err != nil {
					t.Fatalf("retry with the same request_id: %v", err)
				}
				taskID = resp.GetOutput().GetTaskId()
			} else {
				ctx := testContext(t)
				pollUntil(ctx, func() bool {
					resp, err := client.ListTasks(ctx, &cdv1.ListTasksRequest{})
					if err == nil && len(resp.GetTasks()) > 0 {
						taskID = resp.GetTasks()[0].GetTaskId()
					}
					return taskID != ""
				})
			}
			t.Logf("the hung-up start was recorded %v after the call began (Fiber held it %v)", time.Since(began).Round(time.Millisecond), slow)
			started := sim.StartedTasks()
			if len(started) != 1 || started[0].ID != taskID || sim.Stats().Endpoints[fiberfake.EndpointStart].Calls != 1 {
				t.Fatalf("Fiber saw %d start calls, %d tasks (%+v); want one, %s", sim.Stats().Endpoints[fiberfake.EndpointStart].Calls, len(started), started, taskID)
			}

			ups, err := watchGRPC(testContext(t), client, &cdv1.WatchTaskRequest{TaskId: taskID})
			if err != nil || len(ups) == 0 {
				t.Fatalf("watch: %d messages, %v", len(ups), err)
			}
			last := ups[len(ups)-1]
			if last.GetState() != cdv1.TaskState_TASK_STATE_SUCCEEDED {
				t.Fatalf("task ended %v", last.GetState())
			}
			var got []string
			for _, u := range ups {
				for _, r := range u.GetResults() {
					got = append(got, r.GetLinkedinUrl())
				}
			}
			if strings.Join(got, " ") != strings.Join(urls, " ") {
				t.Errorf("results %v, want %v once each", got, urls)
			}

			if logs := p.logs.String(); strings.Contains(logs, "RECONCILE") {
				t.Errorf("a RECONCILE line was logged:\n%s", logs)
			}
			s, err := sqlite.Open(context.Background(), store)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if recs, err := s.ListAmbiguousStarts(testContext(t), time.Time{}); err != nil || len(recs) != 0 {
				t.Errorf("records to reconcile: %+v, %v; want none", recs, err)
			}
		})
	}
}

// pollUntil polls cond every 10ms until it holds or ctx ends.
func pollUntil(ctx context.Context, cond func() bool) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
