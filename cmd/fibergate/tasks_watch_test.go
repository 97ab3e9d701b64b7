package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// tasksAttempt is what one WatchTask call of tasksFakeWatch does: fail at once with
// openErr, or send msgs and then end with endErr (io.EOF: a clean end).
type tasksAttempt struct {
	openErr error
	msgs    []*cdv1.WatchTaskResponse
	endErr  error
}

// tasksFakeWatch plays its attempts in order, one per WatchTask call, and records the
// resume token of each call. Past the last attempt, calls fail UNAVAILABLE.
type tasksFakeWatch struct {
	mu       sync.Mutex // guards attempts and tokens
	attempts []tasksAttempt
	tokens   []string
}

func (f *tasksFakeWatch) WatchTask(ctx context.Context, in *cdv1.WatchTaskRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[cdv1.WatchTaskResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens = append(f.tokens, in.GetResumeToken())
	if len(f.attempts) == 0 {
		return nil, status.Error(codes.Unavailable, "connection refused")
	}
	a := f.attempts[0]
	f.attempts = f.attempts[1:]
	if a.openErr != nil {
		return nil, a.openErr
	}
	return &tasksFakeStream{msgs: a.msgs, end: a.endErr}, nil
}

func (f *tasksFakeWatch) resumeTokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokens
}

// tasksFakeStream is one stream of tasksFakeWatch; only Recv is used.
type tasksFakeStream struct {
	grpc.ClientStream
	msgs []*cdv1.WatchTaskResponse
	end  error
}

func (s *tasksFakeStream) Recv() (*cdv1.WatchTaskResponse, error) {
	if len(s.msgs) == 0 {
		return nil, s.end
	}
	m := s.msgs[0]
	s.msgs = s.msgs[1:]
	return m, nil
}

// tasksStep is the message of a watched task "t" at position pos: running unless final.
func tasksStep(pos int, state cdv1.TaskState) *cdv1.WatchTaskResponse {
	return &cdv1.WatchTaskResponse{TaskId: "t", State: state, ResumeToken: fmt.Sprintf("tok%d", pos),
		OverallStats: &cdv1.OverallStats{TotalPeopleToFetch: 3, NumCompleted: int32(pos)},
		Results:      []*cdv1.PersonResult{{Sequence: int32(pos), LinkedinUrl: fmt.Sprintf("https://www.linkedin.com/in/p%d", pos)}}}
}

const tasksRunning, tasksSucceeded = cdv1.TaskState_TASK_STATE_RUNNING, cdv1.TaskState_TASK_STATE_SUCCEEDED

// tasksSequences parses NDJSON watch output and returns the results' sequence numbers.
func tasksSequences(t *testing.T, out string) []int32 {
	t.Helper()
	var seqs []int32
	for line := range strings.Lines(out) {
		var m cdv1.WatchTaskResponse
		if err := protojson.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		for _, r := range m.GetResults() {
			seqs = append(seqs, r.GetSequence())
		}
	}
	return seqs
}

func TestTasksWatchResumesAfterABreak(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  error
	}{
		{"unavailable", status.Error(codes.Unavailable, "server shutting down")},
		{"stream ended early", io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := &tasksFakeWatch{attempts: []tasksAttempt{
					{msgs: []*cdv1.WatchTaskResponse{tasksStep(1, tasksRunning)}, endErr: tc.cut},
					{openErr: status.Error(codes.Unavailable, "connection refused")}, // still down
					{msgs: []*cdv1.WatchTaskResponse{tasksStep(2, tasksRunning), tasksStep(3, tasksSucceeded)}, endErr: io.EOF},
				}}
				var out, log bytes.Buffer
				w := &watcher{client: fake, out: &out, log: &log, reconnectFor: time.Minute}
				start := time.Now()
				last, err := w.watch(t.Context(), &cdv1.WatchTaskRequest{TaskId: "t", ResumeToken: "given"})
				if err != nil {
					t.Fatal(err)
				}
				if last.GetState() != tasksSucceeded || outcome(last) != nil {
					t.Errorf("watch returned %v, outcome %v; want the SUCCEEDED message", last, outcome(last))
				}
				if diff := cmp.Diff([]string{"given", "tok1", "tok1"}, fake.resumeTokens()); diff != "" {
					t.Errorf("resume tokens sent (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff([]int32{1, 2, 3}, tasksSequences(t, out.String())); diff != "" {
					t.Errorf("results printed (-want +got):\n%s", diff)
				}
				// Two waits, about 250ms and 500ms give or take a fifth, in the bubble's time.
				if took := time.Since(start); took < 600*time.Millisecond || took > 900*time.Millisecond {
					t.Errorf("resuming took %v, want two backoff delays, 0.6s to 0.9s", took)
				}
				if n := strings.Count(log.String(), "resuming in"); n != 2 {
					t.Errorf("stderr has %d resume notes, want 2:\n%s", n, log.String())
				}
			})
		})
	}
}

func TestTasksWatchGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// One message, then the server is gone for good.
		fake := &tasksFakeWatch{attempts: []tasksAttempt{
			{msgs: []*cdv1.WatchTaskResponse{tasksStep(1, tasksRunning)}, endErr: status.Error(codes.Unavailable, "gone")},
		}}
		var out, log bytes.Buffer
		w := &watcher{client: fake, out: &out, log: &log, reconnectFor: 20 * time.Second}
		start := time.Now()
		_, err := w.watch(t.Context(), &cdv1.WatchTaskRequest{TaskId: "t"})
		if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "giving up") {
			t.Fatalf("watch = %v, want UNAVAILABLE after giving up", err)
		}
		if took := time.Since(start); took < 20*time.Second || took > 26*time.Second {
			t.Errorf("gave up after %v, want about -reconnect-for (20s) plus at most one delay", took)
		}
		// Delays double up to 5s: 0.25+0.5+1+2+4 = 7.75s, then every 5s: about 7 attempts.
		if n := len(fake.resumeTokens()); n < 5 || n > 9 {
			t.Errorf("%d attempts in 20s, want about 7 (backoff doubling to 5s)", n)
		}
	})
}

func TestTasksWatchDoesNotRetry(t *testing.T) {
	notFound := status.Error(codes.NotFound, "task t not found")
	for _, tc := range []struct {
		name     string
		attempts []tasksAttempt
		reconn   time.Duration
		code     codes.Code
	}{
		// Before any message: the server, the task or the token is wrong; say so at once.
		{"unreachable at first", nil, time.Minute, codes.Unavailable},
		{"unknown task", []tasksAttempt{{openErr: notFound}}, time.Minute, codes.NotFound},
		{"broken before the first message", []tasksAttempt{{endErr: status.Error(codes.Unavailable, "reset")}}, time.Minute, codes.Unavailable},
		// After one: only a break is resumed, not a refusal.
		{"refused mid-stream", []tasksAttempt{{msgs: []*cdv1.WatchTaskResponse{tasksStep(1, tasksRunning)}, endErr: status.Error(codes.PermissionDenied, "no")}}, time.Minute, codes.PermissionDenied},
		{"-reconnect-for 0", []tasksAttempt{{msgs: []*cdv1.WatchTaskResponse{tasksStep(1, tasksRunning)}, endErr: status.Error(codes.Unavailable, "gone")}}, 0, codes.Unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := &tasksFakeWatch{attempts: tc.attempts}
				var out, log bytes.Buffer
				w := &watcher{client: fake, out: &out, log: &log, reconnectFor: tc.reconn}
				_, err := w.watch(t.Context(), &cdv1.WatchTaskRequest{TaskId: "t"})
				if status.Code(err) != tc.code {
					t.Errorf("watch = %v, want %v", err, tc.code)
				}
				if n := len(fake.resumeTokens()); n != 1 {
					t.Errorf("%d WatchTask calls, want 1", n)
				}
				if log.Len() != 0 {
					t.Errorf("a resume was announced: %s", log.String())
				}
			})
		})
	}
}

func TestTasksWatchInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := &tasksFakeWatch{attempts: []tasksAttempt{
			{msgs: []*cdv1.WatchTaskResponse{tasksStep(1, tasksRunning)}, endErr: status.Error(codes.Unavailable, "gone")},
		}}
		ctx, cancel := context.WithCancel(t.Context())
		w := &watcher{client: fake, out: io.Discard, log: io.Discard, reconnectFor: time.Hour}
		done := make(chan error)
		go func() {
			_, err := w.watch(ctx, &cdv1.WatchTaskRequest{TaskId: "t"})
			done <- err
		}()
		time.Sleep(3 * time.Second) // in the bubble: a few resumes in
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("watch after cancel = %v, want context.Canceled (exit 130)", err)
		}
	})
}

func TestTasksWatchOutcome(t *testing.T) {
	stats := func(failed, rejected int32) *cdv1.OverallStats {
		return &cdv1.OverallStats{TotalPeopleToFetch: 10, NumCompleted: 10 - failed, NumFailed: failed, NumRejected: rejected}
	}
	for _, tc := range []struct {
		msg  *cdv1.WatchTaskResponse
		want string // "" for nil
	}{
		{&cdv1.WatchTaskResponse{TaskId: "t", State: tasksSucceeded, OverallStats: stats(0, 0)}, ""},
		{&cdv1.WatchTaskResponse{TaskId: "t", State: tasksSucceeded, OverallStats: stats(1, 2)}, "task t ended SUCCEEDED: 9 of 10 people completed, 1 failed, 2 rejected"},
		{&cdv1.WatchTaskResponse{TaskId: "t", State: cdv1.TaskState_TASK_STATE_FAILED, OverallStats: stats(0, 0)}, "task t ended FAILED: 10 of 10 people completed, 0 failed, 0 rejected"},
		{&cdv1.WatchTaskResponse{TaskId: "t", State: cdv1.TaskState_TASK_STATE_CANCELED}, "task t ended CANCELED: 0 of 0 people completed, 0 failed, 0 rejected"},
	} {
		err := outcome(tc.msg)
		var pe *partialError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("outcome(%v) = %v, want nil", tc.msg, err)
		case tc.want != "" && (!errors.As(err, &pe) || pe.msg != tc.want):
			t.Errorf("outcome(%v) = %v, want a partial error %q", tc.msg, err, tc.want)
		}
	}
}
