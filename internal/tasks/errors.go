package tasks

import "errors"

// Errors returned by the Engine.
var (
	// ErrNotFound: no such task for this owner (also for another owner's task, so that its
	// existence is not revealed).
	ErrNotFound = errors.New("task not found")
	// ErrRunning: the operation needs a finished task.
	ErrRunning = errors.New("task is still running")
	// ErrFinished: the operation needs a running task.
	ErrFinished = errors.New("task has already finished")
	// ErrKeyUnavailable: the task's Fiber key is not known to this process (it came with a
	// request before a restart); a request carrying that key again resumes the task.
	ErrKeyUnavailable = errors.New("the task's Fiber API key is not available: repeat the request with its api_key")
	// ErrBadToken: a resume or page token that this server did not issue for this task.
	ErrBadToken = errors.New("malformed or foreign token")
)
