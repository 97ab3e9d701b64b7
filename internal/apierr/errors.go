package apierr

import "errors"

// The API's own domain errors, those that no package below the handlers (internal/tasks,
// internal/fiber, internal/budget) stands for. Handlers and interceptors return them, wrapped
// with context if they like; ToStatus maps each to its code and reason, and the status message
// is the sentinel's own text, without that context, unless its doc says otherwise.
var (
	// ErrUnauthenticated means there is no bearer token, or one that matches no principal.
	ErrUnauthenticated = errors.New("missing or invalid bearer token")

	// ErrNoAPIKey means a call needs a Fiber API key and neither the request nor the server
	// has one. Its status message is the whole error text.
	ErrNoAPIKey = errors.New("no Fiber API key: the request carries no api_key and the server has none configured (set FIBER_API_KEY)")
	// ErrRequestKeyRefused means the request carries an api_key and the server does not take
	// them.
	ErrRequestKeyRefused = errors.New("this server does not accept a Fiber api_key in requests: leave it out to use the server's key")

	// ErrIdempotencyKeyReused means the request id was used before with another payload. The
	// BadRequest names the field wrapped with InField, else FieldRequestID.
	ErrIdempotencyKeyReused = errors.New("this idempotency key was used before with a different request: use a new key for a new request")
	// ErrBadIdempotencyKey means the Idempotency-Key header is not one UUID.
	ErrBadIdempotencyKey = errors.New("the Idempotency-Key header must be one UUID")
	// ErrEarlierOutcomeUnknown means an earlier request with this id was sent to Fiber and no
	// answer came back; it is never sent again under the same id.
	ErrEarlierOutcomeUnknown = errors.New("an earlier StartBatch with this request_id was sent to Fiber but its outcome is unknown: it may have started (and charged) a batch; check ListTasks before starting again with a new request_id")
	// ErrRequestInProgress means another process is sending the request with this id right
	// now.
	ErrRequestInProgress = errors.New("a StartBatch with this request_id is in progress: retry shortly with the same request_id")

	// ErrTooManyStreams means the principal holds its maximum of open watch streams.
	ErrTooManyStreams = errors.New("too many open WatchTask streams for this caller: close one, or use ListTaskResults")

	// ErrPanic stands for a handler that panicked; the recovery interceptor returns it. Its
	// status says no more than "internal error".
	ErrPanic = errors.New("handler panicked")
)

// unknownMethodError is a call of a method the server does not have.
type unknownMethodError struct{ method string }

func (e *unknownMethodError) Error() string { return "unknown service or method " + e.method }

// fieldError ties an error to the request field it is about, named by its JSON name (or the
// header it came from), so that ToStatus can name it in a google.rpc.BadRequest.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

// InField wraps err (nil stays nil) with the request field it is about, by its JSON name
// ("pageToken") or the header it came from (IdempotencyKeyHeader). ToStatus names that field
// in the BadRequest of an INVALID_ARGUMENT.
func InField(field string, err error) error {
	if err == nil {
		return nil
	}
	return &fieldError{field: field, err: err}
}

// fieldOf returns the field err was wrapped with, or "".
func fieldOf(err error) string {
	if fe, ok := errors.AsType[*fieldError](err); ok {
		return fe.field
	}
	return ""
}

// taskError ties an error to the task id the caller sent, so that ToStatus can echo it in the
// ErrorInfo metadata. Only the caller's own input is echoed: a task that does not exist and
// another principal's task must stay indistinguishable.
type taskError struct {
	taskID string
	err    error
}

func (e *taskError) Error() string { return "task " + e.taskID + ": " + e.err.Error() }
func (e *taskError) Unwrap() error { return e.err }

// ForTask wraps err (nil stays nil) with the task id the request named; ToStatus echoes it in
// the ErrorInfo metadata (MetaTaskID) of a task error.
func ForTask(taskID string, err error) error {
	if err == nil {
		return nil
	}
	return &taskError{taskID: taskID, err: err}
}

// taskMetadata is the ErrorInfo metadata of an error about a task: its task_id when the
// handler wrapped the error with ForTask, else nil.
func taskMetadata(err error) map[string]string {
	if te, ok := errors.AsType[*taskError](err); ok {
		return map[string]string{MetaTaskID: te.taskID}
	}
	return nil
}
