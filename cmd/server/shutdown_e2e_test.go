package main

import (
	"encoding/json"
	"syscall"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

func TestWatchersEndWithShuttingDownOnSIGTERM(t *testing.T) {
	_, url := newPacedUpstream(t, 2) // 100 people: 50s of work, far longer than the test
	p := startOn(t, url, "-shutdown-timeout", "5s")
	client := p.dial(t)
	id := newBatch(100, 0, 0).start(t, client)

	// One watcher of each kind; each reports once it has its first message, then reads on.
	type ended struct {
		rest    restWatch
		restErr error
		grpc    []*cdv1.WatchTaskResponse
		grpcErr error
	}
	restFirst, grpcFirst := make(chan struct{}), make(chan struct{})
	restDone, grpcDone := make(chan ended, 1), make(chan ended, 1)
	go func() {
		first := restFirst
		w, err := watchREST(testContext(t), p, id, "", func(*cdv1.WatchTaskResponse) bool {
			if first != nil {
				close(first)
				first = nil
			}
			return false
		})
		restDone <- ended{rest: w, restErr: err}
	}()
	go func() {
		ctx := testContext(t)
		stream, err := client.WatchTask(ctx, &cdv1.WatchTaskRequest{TaskId: id})
		var msgs []*cdv1.WatchTaskResponse
		for err == nil {
			var m *cdv1.WatchTaskResponse
			if m, err = stream.Recv(); err == nil {
				if len(msgs) == 0 {
					close(grpcFirst)
				}
				msgs = append(msgs, m)
			}
		}
		grpcDone <- ended{grpc: msgs, grpcErr: err}
	}()
	for _, c := range []chan struct{}{restFirst, grpcFirst} {
		select {
		case <-c:
		case <-testContext(t).Done():
			t.Fatal("a watcher got no first message")
		}
	}

	if err := p.stopWith(syscall.SIGTERM); err != nil {
		t.Errorf("server exit after SIGTERM: %v", err)
	}

	r := <-restDone
	if r.restErr != nil {
		t.Fatalf("REST watch: %v", r.restErr) // also: a line after the error line
	}
	if r.rest.errLine == nil {
		t.Fatalf("the REST watch ended without an error line after %d messages", len(r.rest.msgs))
	}
	var line struct {
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(r.rest.errLine, &line); err != nil {
		t.Fatal(err)
	}
	var head struct {
		Code    int
		Message string
		Details []json.RawMessage
	}
	if err := json.Unmarshal(line.Error, &head); err != nil || head.Code != int(codes.Unavailable) || head.Message == "" || len(head.Details) == 0 {
		t.Errorf(`REST last line %s: want {"error":{"code":14,"message":…,"details":[…]}}`, r.rest.errLine)
	}
	if st := restStatus(t, r.rest.errLine); st.Code() != codes.Unavailable || errorInfo(st).GetReason() != "SHUTTING_DOWN" {
		t.Errorf("REST last line %s: want UNAVAILABLE SHUTTING_DOWN", r.rest.errLine)
	}
	if last := r.rest.msgs[len(r.rest.msgs)-1]; last.GetResumeToken() == "" {
		t.Error("the REST watch's last message has no resume token to resume elsewhere with")
	}

	g := <-grpcDone
	if st := status.Convert(g.grpcErr); st.Code() != codes.Unavailable || errorInfo(st).GetReason() != "SHUTTING_DOWN" {
		t.Errorf("gRPC watch ended with %v %v, want UNAVAILABLE SHUTTING_DOWN", st.Code(), errorInfo(st))
	}
	if len(g.grpc) == 0 || g.grpc[len(g.grpc)-1].GetState() != cdv1.TaskState_TASK_STATE_RUNNING {
		t.Errorf("the gRPC watch did not stop at a running state: %d messages", len(g.grpc))
	}
}
