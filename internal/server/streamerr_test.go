package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/gateway"
	"github.com/fibergate/fibergate/internal/server"
)

// failingWatch fails WatchTask of task "early" before its first message, and of any other
// task after one message.
type failingWatch struct {
	cdv1.UnimplementedContactDetailsServiceServer
}

func (failingWatch) WatchTask(req *cdv1.WatchTaskRequest, stream grpc.ServerStreamingServer[cdv1.WatchTaskResponse]) error {
	if req.GetTaskId() == "early" {
		st, _ := status.New(codes.NotFound, "no task early").WithDetails(&errdetails.ErrorInfo{Reason: "TASK_NOT_FOUND", Domain: "fibergate"})
		return st.Err()
	}
	if err := stream.Send(&cdv1.WatchTaskResponse{TaskId: req.GetTaskId(), State: cdv1.TaskState_TASK_STATE_RUNNING}); err != nil {
		return err
	}
	return status.Error(codes.Unavailable, "going away")
}

// TestWatchErrorBeforeTheFirstMessageIsAUnaryAnswer: over REST, a watch that fails before
// its first message is answered like any unary call (the code's HTTP status, JSON body
// {"code", "message", "details"}); one that fails later keeps 200 and NDJSON, and ends with
// {"error": {...}}.
func TestWatchErrorBeforeTheFirstMessageIsAUnaryAnswer(t *testing.T) {
	_, httpAddr := serve(t, server.Config{Service: failingWatch{}})

	code, header, body := restDo(t, http.MethodGet, "http://"+httpAddr+"/v1/contact-details/batch/early:watch", "", nil)
	var unary struct {
		Code    *codes.Code       `json:"code"`
		Message string            `json:"message"`
		Details []json.RawMessage `json:"details"`
		Error   json.RawMessage   `json:"error"`
	}
	if err := json.Unmarshal(body, &unary); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if code != http.StatusNotFound || unary.Code == nil || *unary.Code != codes.NotFound || unary.Message != "no task early" ||
		len(unary.Details) != 1 || unary.Error != nil {
		t.Errorf("early failure: HTTP %d %s, want 404 {\"code\":5,\"message\":\"no task early\",\"details\":[ErrorInfo]}", code, body)
	}
	if ct := header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("early failure: Content-Type %q", ct)
	}
	if bytes.Count(body, []byte("no task early")) != 1 {
		t.Errorf("early failure answered more than once: %s", body)
	}

	code, header, body = restDo(t, http.MethodGet, "http://"+httpAddr+"/v1/contact-details/batch/late:watch", "", nil)
	if ct := header.Get("Content-Type"); ct != gateway.NDJSON {
		t.Errorf("a stream that began: Content-Type %q, want %s", ct, gateway.NDJSON)
	}
	lines := bytes.Split(bytes.TrimSpace(body), []byte("\n"))
	var last struct {
		Error struct {
			Code    codes.Code `json:"code"`
			Message string     `json:"message"`
		} `json:"error"`
	}
	if code != http.StatusOK || len(lines) != 2 || !bytes.HasPrefix(lines[0], []byte(`{"result":`)) ||
		json.Unmarshal(lines[1], &last) != nil || last.Error.Code != codes.Unavailable || last.Error.Message != "going away" {
		t.Errorf("late failure: HTTP %d %s, want 200, a result line and an {\"error\": UNAVAILABLE} line", code, body)
	}
}
