package main

import (
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

func TestCancelMidTaskEndsCanceledWithRefund(t *testing.T) {
	// Nobody without data and nobody failing: the cancel is the only refund, so the ledger
	// moves by exactly what CancelTask reports.
	sim, url := newUpstreamWith(t, fiberfake.Config{PeoplePerSecond: 20, NoDataRate: -1})
	p := startOn(t, url)
	client := p.dial(t)
	b := newBatch(500, 0, 0)
	id := b.start(t, client)

	stream, err := client.WatchTask(testContext(t), &cdv1.WatchTaskRequest{TaskId: id})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*cdv1.WatchTaskResponse
	for len(results(msgs)) == 0 {
		m, err := stream.Recv()
		if err != nil {
			t.Fatalf("watch ended before any result: %v", err)
		}
		msgs = append(msgs, m)
	}

	before, _ := sim.Credits(serverKey)
	resp, err := client.CancelTask(testContext(t), &cdv1.CancelTaskRequest{TaskId: id})
	if err != nil {
		t.Fatalf("CancelTask: %v", err)
	}
	canceledAt := time.Now()
	after, _ := sim.Credits(serverKey)
	if resp.GetCancelledCount() <= 0 || resp.GetCreditsRefunded() <= 0 {
		t.Errorf("CancelTask = %v, want people cancelled and credits refunded", resp)
	}
	if resp.GetCreditsRefunded() != after-before || resp.GetCreditsRefunded() != float64(5*resp.GetCancelledCount()) {
		t.Errorf("refund %v for %d people; the simulator's balance moved by %v (5 credits a person)",
			resp.GetCreditsRefunded(), resp.GetCancelledCount(), after-before)
	}

	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("watch after the cancel: %v", err)
		}
		msgs = append(msgs, m)
	}
	// A watched task is polled at least every 2s (the watched poll interval), so the watch ends
	// soon after the cancel, long before the 25s the task would run.
	if d := time.Since(canceledAt); d > 10*time.Second {
		t.Errorf("the watch ended %v after the cancel", d)
	}
	checkEndsWith(t, "watch", msgs, cdv1.TaskState_TASK_STATE_CANCELED)
	// Every watcher, not only the caller of CancelTask, learns the refund on the last message.
	if c := msgs[len(msgs)-1].GetCancellation(); c.GetCancelledCount() != resp.GetCancelledCount() ||
		c.GetCreditsRefunded() != resp.GetCreditsRefunded() || c.GetMessage() != resp.GetMessage() || c.GetCancelTime() == nil {
		t.Errorf("last watch message's cancellation %v, want CancelTask's answer %v", c, resp)
	}
	for _, m := range msgs[:len(msgs)-1] {
		if m.GetCancellation() != nil {
			t.Errorf("a message before the last carries a cancellation: %v", m)
		}
	}
	rs := results(msgs)
	checkSequence(t, "watch", rs, 0, b.want)
	done := len(b.want) - int(resp.GetCancelledCount())
	if len(rs) != done {
		t.Errorf("the watch delivered %d results; %d people were done before the cancel", len(rs), done)
	}
	if info := sim.StartedTasks()[0]; !info.Canceled || info.Completed != done {
		t.Errorf("simulator: canceled %v with %d completed, want canceled with %d", info.Canceled, info.Completed, done)
	}

	got, err := client.GetTask(testContext(t), &cdv1.GetTaskRequest{TaskId: id})
	if err != nil {
		t.Fatal(err)
	}
	if task := got.GetTask(); task.GetState() != cdv1.TaskState_TASK_STATE_CANCELED || int(task.GetNumResults()) != done || task.GetFinishTime() == nil {
		t.Errorf("GetTask after the cancel: state %v, %d results, finish time %v", task.GetState(), task.GetNumResults(), task.GetFinishTime())
	}
	if c := got.GetTask().GetCancellation(); c.GetCreditsRefunded() != resp.GetCreditsRefunded() || c.GetCancelledCount() != resp.GetCancelledCount() {
		t.Errorf("GetTask's cancellation %v, want CancelTask's answer %v", c, resp)
	}

	// A finished task cannot be cancelled again, and Fiber is not asked.
	_, err = client.CancelTask(testContext(t), &cdv1.CancelTaskRequest{TaskId: id})
	wantStatus(t, "gRPC cancel of a canceled task", err, codes.FailedPrecondition, "TASK_FINISHED")
	code, _, body := p.rest(t, http.MethodPost, "/v1/contact-details/batch/"+id+":cancel", []byte(`{}`), nil)
	if code != http.StatusBadRequest {
		t.Errorf("REST cancel of a canceled task: HTTP %d, want 400: %s", code, body)
	}
	wantStatus(t, "REST cancel of a canceled task", restStatus(t, body).Err(), codes.FailedPrecondition, "TASK_FINISHED")
	if n := sim.Calls(fiberfake.EndpointCancel); n != 1 {
		t.Errorf("%d cancels reached the simulator, want 1", n)
	}
}
