package service

import "errors"

// fieldError ties an error to the request field it is about, named by its JSON name (or the
// header it came from), so that ToStatus can name it in a google.rpc.BadRequest.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

// inField wraps err (nil stays nil) with the field it is about.
func inField(field string, err error) error {
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

// forTask wraps err (nil stays nil) with the task id the request named.
func forTask(taskID string, err error) error {
	if err == nil {
		return nil
	}
	return &taskError{taskID: taskID, err: err}
}

// taskMetadata is the ErrorInfo metadata of an error about a task: its task_id when the
// handler wrapped the error with forTask, else nil.
func taskMetadata(err error) map[string]string {
	if te, ok := errors.AsType[*taskError](err); ok {
		return map[string]string{"task_id": te.taskID}
	}
	return nil
}
