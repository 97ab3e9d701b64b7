package enrich

import (
	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"

	"context"
	"fmt"
	"time"
)

// startAll starts the batches in order, one at a time (the server queues each start for a
// slot of Fiber's start budget), and queues each started one for a watcher. It closes queue
// when done. A batch whose start's outcome is unknown is left alone; one whose start fails
// otherwise stops it and every batch after it.
func (r *run) startAll(ctx context.Context, batches []int, queue chan<- watchItem) {
	defer close(queue)
	for k, b := range batches {
		resp, err := r.start(ctx, b)
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			if !r.send(ctx, event{batch: b, kind: evStarted, resp: resp}) {
				return
			}
			queue <- watchItem{batch: b, taskID: resp.GetOutput().GetTaskId()}
		case isUnknown(err):
			if !r.send(ctx, event{batch: b, kind: evUnknown, err: err}) {
				return
			}
		default:
			for _, rest := range batches[k:] {
				stop := fmt.Errorf("start batch %d: %w", r.plan.Batches[rest].Number, err)
				if rest != b {
					stop = fmt.Errorf("batch %d not started: the start of batch %d failed", r.plan.Batches[rest].Number, r.plan.Batches[b].Number)
				}
				if !r.send(ctx, event{batch: rest, kind: evStopped, err: stop}) {
					return
				}
			}
			return
		}
	}
}

// unknownError is a start whose outcome is unknown.
type unknownError struct{ err error }

func (e *unknownError) Error() string { return e.err.Error() }
func (e *unknownError) Unwrap() error { return e.err }

func isUnknown(err error) bool {
	_, ok := err.(*unknownError)
	return ok
}

// start sends batch b's start, retrying it with the same request id after a rate limit (as
// long as it takes) or a lost connection (a few times).
func (r *run) start(ctx context.Context, b int) (*cdv1.StartBatchResponse, error) {
	bs := &r.st.Batches[b] // RequestID is not changed while the run runs
	req := r.plan.request(b, bs.RequestID)
	for n := 1; ; n++ {
		resp, err := r.cfg.Client.StartBatch(ctx, req)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		v, delay := classify(err, n)
		switch {
		case v == unknown:
			return nil, &unknownError{err}
		case v == fatal, v == transient && n >= maxTransient:
			return nil, err
		}
		r.note("batch %d: %s; starting it again in %v with the same request_id", bs.Number, r.describe(err), delay.Round(time.Millisecond))
		if !sleep(ctx, delay) {
			return nil, ctx.Err()
		}
	}
}

// sleep waits d, or until ctx ends (then false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
