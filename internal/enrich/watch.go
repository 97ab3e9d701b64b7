package enrich

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// watchItem is a started batch to watch from a resume token ("" for the start).
type watchItem struct {
	batch  int
	taskID string
	token  string
}

// watchAll watches the queued batches one after the other until the queue is closed and
// empty, or ctx ends.
func (r *run) watchAll(ctx context.Context, queue <-chan watchItem) {
	for {
		select {
		case it, ok := <-queue:
			if !ok {
				return
			}
			if err := r.watch(ctx, it); err != nil && ctx.Err() == nil {
				r.send(ctx, event{batch: it.batch, kind: evStopped, err: err})
			}
		case <-ctx.Done():
			return
		}
	}
}

// watch follows one task to its end, handing every message to the writer, and reconnects
// with the last token received after a lost stream.
func (r *run) watch(ctx context.Context, it watchItem) error {
	number := r.plan.Batches[it.batch].Number
	failures := 0
	for {
		end, err := r.watchOnce(ctx, it.batch, it.taskID, &it.token, &failures)
		if end || ctx.Err() != nil {
			return nil
		}
		failures++
		v, delay := classify(err, failures)
		if v == fatal || v == unknown || v == transient && failures >= maxTransient {
			return fmt.Errorf("watch batch %d (task %s): %w", number, it.taskID, err)
		}
		r.note("batch %d: watch of task %s lost (%s); going on in %v", number, it.taskID, r.describe(err), delay.Round(time.Millisecond))
		if !sleep(ctx, delay) {
			return nil
		}
	}
}

// watchOnce reads one WatchTask stream from *token, moving it on with each message. end:
// the task's last message was handed over.
func (r *run) watchOnce(ctx context.Context, batch int, taskID string, token *string, failures *int) (end bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := r.cfg.Client.WatchTask(ctx, &cdv1.WatchTaskRequest{TaskId: taskID, ResumeToken: *token})
	if err != nil {
		return false, err
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return false, io.ErrUnexpectedEOF // the stream ends only after the terminal message
		}
		if err != nil {
			return false, err
		}
		*failures = 0
		if !r.send(ctx, event{batch: batch, kind: evMessage, msg: msg}) {
			return false, ctx.Err()
		}
		*token = msg.GetResumeToken()
		if terminal(msg.GetState()) {
			return true, nil
		}
	}
}

func terminal(s cdv1.TaskState) bool {
	return s == cdv1.TaskState_TASK_STATE_SUCCEEDED || s == cdv1.TaskState_TASK_STATE_FAILED || s == cdv1.TaskState_TASK_STATE_CANCELED
}
