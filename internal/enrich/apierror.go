package enrich

import (
	"errors"
	"io"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorInfo reasons of the server that the run acts on (internal/apierr's, part of the API).
const (
	reasonOutcomeUnknown  = "UPSTREAM_OUTCOME_UNKNOWN"
	reasonTaskNotRecorded = "TASK_NOT_RECORDED"
	reasonTaskIDConflict  = "TASK_ID_CONFLICT"
)

// verdict is what to do after a failed call.
type verdict int

const (
	fatal     verdict = iota // give up: the error is the answer
	retry                    // retry after the delay, as often as it takes (a rate limit, a busy request id)
	transient                // retry after the delay, a few times (a lost connection, a server restarting)
	unknown                  // a start whose outcome is unknown: never retried on its own
)

// maxTransient is how many transient failures in a row a call survives, retried after
// 0.5s, 1s, 2s, ... (about 30 seconds in all) unless the server says when.
const maxTransient = 6

// DefaultRetryDelay is the wait after a RESOURCE_EXHAUSTED that carries no RetryInfo.
const DefaultRetryDelay = 5 * time.Second

// classify tells what to do after err, the failure number n (1-based) in a row, and how long
// to wait before trying again. A retried StartBatch carries the same request_id, so that it
// is never started twice.
func classify(err error, n int) (verdict, time.Duration) {
	backoff := min(500*time.Millisecond<<(n-1), 16*time.Second)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return transient, backoff // a watch stream that ended before the task did
	}
	st, ok := status.FromError(err)
	if !ok {
		return fatal, 0
	}
	delay, hasDelay := retryInfo(st)
	switch st.Code() {
	case codes.ResourceExhausted:
		if !hasDelay {
			delay = DefaultRetryDelay
		}
		return retry, delay
	case codes.Aborted: // REQUEST_IN_PROGRESS: the same request id is being sent right now
		return retry, time.Second
	case codes.Unavailable, codes.DeadlineExceeded:
		if !hasDelay {
			delay = backoff
		}
		return transient, delay
	case codes.Unknown:
		if reasonOf(st) == reasonOutcomeUnknown {
			return unknown, 0
		}
	case codes.Internal:
		switch reasonOf(st) {
		case reasonTaskNotRecorded: // started; the same request id answers with it once recorded
			return transient, max(backoff, 2*time.Second)
		case reasonTaskIDConflict:
			return unknown, 0
		}
	}
	return fatal, 0
}

func retryInfo(st *status.Status) (time.Duration, bool) {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

func reasonOf(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}
