package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// Reconnection delays of watch: the first, doubled after each failed attempt up to the most.
const (
	watchRetryFirst     = 250 * time.Millisecond
	watchRetryMax       = 5 * time.Second
	defaultReconnectFor = time.Minute
)

// errStreamEnded is a watch stream that ended without a terminal state: a disconnect.
var errStreamEnded = errors.New("the stream ended before the task did")

func runWatch(ctx context.Context, e env, args []string) int {
	f := newTaskFlags(e, "watch", "TASK_ID", `Watch follows a task to its end. It prints every WatchTaskResponse as a line of
JSON (NDJSON), as the REST API gives it, the moment it arrives: the task's state and
counts and the results stored since the previous line. The last line carries the
terminal state (SUCCEEDED, FAILED or CANCELED).

A stream that breaks after its first line (the server restarts, the network fails) is
resumed with the last resumeToken, with no gap and no duplicate, after a growing delay
(at most 5s) for up to -reconnect-for without a line. Exit 0 when the task succeeded
with every person done, 3 when it ended otherwise or some people were rejected or
failed.`)
	progressOnly := f.fs.Bool("progress-only", false, "print state and counts only, without results")
	resume := f.fs.String("resume-token", "", "go on after the line that carried this resumeToken")
	reconnectFor := f.fs.Duration("reconnect-for", defaultReconnectFor, "after a broken stream, keep trying to resume this long without a line (0: do not resume)")
	return runTask(ctx, e, f, args, 1, func(ctx context.Context, client cdv1.ContactDetailsServiceClient, args []string) error {
		if len(*resume) > 512 {
			return usagef("-resume-token: longer than 512 bytes, not a resumeToken")
		}
		w := &watcher{client: client, out: e.stdout, log: e.stderr, reconnectFor: *reconnectFor}
		last, err := w.watch(ctx, &cdv1.WatchTaskRequest{TaskId: args[0], ResumeToken: *resume, ProgressOnly: *progressOnly})
		if err != nil {
			return err
		}
		return outcome(last)
	})
}

// watchClient is what watch needs of the service.
type watchClient interface {
	WatchTask(ctx context.Context, in *cdv1.WatchTaskRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[cdv1.WatchTaskResponse], error)
}

// watcher follows one task, resuming broken streams.
type watcher struct {
	client       watchClient
	out          io.Writer // a line of JSON per message
	log          io.Writer // a line per reconnection
	reconnectFor time.Duration
}

// watch writes every message of the task req names to w.out until the one with a terminal
// state, which it returns. A stream that breaks after a message arrived in this run is
// resumed with the last resume token, until w.reconnectFor passes without a message; an
// error before any message (an unknown task, a bad token, no server) is returned at once.
func (w *watcher) watch(ctx context.Context, req *cdv1.WatchTaskRequest) (*cdv1.WatchTaskResponse, error) {
	req = proto.CloneOf(req)
	var (
		flowed  bool      // a message arrived in this run: the server knows the task
		brokeAt time.Time // when the stream broke with no message since; zero while it flows
		delay   = watchRetryFirst
	)
	for {
		last, n, err := w.stream(ctx, req)
		if err == nil {
			return last, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if n > 0 {
			flowed, brokeAt, delay = true, time.Time{}, watchRetryFirst
		}
		if !flowed || !resumable(err) {
			return nil, fmt.Errorf("watch task %s: %w", req.GetTaskId(), err)
		}
		if brokeAt.IsZero() {
			brokeAt = time.Now()
		}
		if waited := time.Since(brokeAt); waited >= w.reconnectFor {
			return nil, fmt.Errorf("watch task %s: no message for %v, giving up: %w", req.GetTaskId(), waited.Round(time.Millisecond), err)
		}
		d := jitter(delay)
		fmt.Fprintf(w.log, "fibergate: watch task %s: %s; resuming in %v\n", req.GetTaskId(), describe(err), d.Round(time.Millisecond))
		if err := sleep(ctx, d); err != nil {
			return nil, err
		}
		delay = min(2*delay, watchRetryMax)
	}
}

// stream runs one WatchTask call from req's resume token, writing each message and moving
// the token on. It returns the terminal message, or the error that ended the stream
// (errStreamEnded for an end without a terminal state), and how many messages arrived.
func (w *watcher) stream(ctx context.Context, req *cdv1.WatchTaskRequest) (*cdv1.WatchTaskResponse, int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := w.client.WatchTask(ctx, req)
	if err != nil {
		return nil, 0, err
	}
	for n := 0; ; n++ {
		m, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return nil, n, errStreamEnded
		}
		if err != nil {
			return nil, n, err
		}
		if err := writeJSON(w.out, m); err != nil {
			return nil, n, err
		}
		req.ResumeToken = m.GetResumeToken()
		if terminal(m.GetState()) {
			return m, n + 1, nil
		}
	}
}

// resumable reports whether a watch that failed with err may go on from its resume token.
func resumable(err error) bool {
	return errors.Is(err, errStreamEnded) || status.Code(err) == codes.Unavailable
}

// outcome is nil when the task of last, a terminal message, succeeded with every person
// done, else a *partialError saying how it ended.
func outcome(last *cdv1.WatchTaskResponse) error {
	s := last.GetOverallStats()
	if last.GetState() == cdv1.TaskState_TASK_STATE_SUCCEEDED && s.GetNumFailed() == 0 && s.GetNumRejected() == 0 {
		return nil
	}
	return &partialError{fmt.Sprintf("task %s ended %s: %d of %d people completed, %d failed, %d rejected",
		last.GetTaskId(), stateName(last.GetState()), s.GetNumCompleted(), s.GetTotalPeopleToFetch(), s.GetNumFailed(), s.GetNumRejected())}
}

// jitter spreads d by ±20%, so that many clients cut off together do not come back together.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// sleep waits d, or returns ctx's error first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
