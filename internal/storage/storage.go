// Package storage holds the types fibergate keeps (tasks and their results, the records of
// idempotent requests, the records of starts an operator must reconcile) and the errors
// every backend returns. Backends live in subpackages, one each: storage/sqlite for one
// process, storage/postgres for any number sharing a database.
//
// The package declares no store interface: each consumer declares the few methods it uses
// (tasks.Store, service.RequestStore and service.ReconcileStore, cmd/reconcile's listing).
// A backend implements their union, storagetest.Backend: its method comments are the
// contract every backend keeps, and its suite, storagetest.Run, checks it. A backend's
// tests run the suite and declare var _ storagetest.Backend = (*Store)(nil); nothing in the
// contract depends on how another backend does it.
//
// The store is the source of truth of the task engine: a task's pollers append results and
// move its cursor in one atomic step (AppendResults), so after a crash polling resumes from a
// cursor that matches exactly the results stored, and no result is lost or stored twice.
//
// A backend that several processes share also leases tasks to them
// (storagetest.LeaseBackend), so that one replica at a time polls a task, and refuses a
// poller's write once its replica has lost the lease (Update.Fence, ErrLeaseLost).
package storage

import (
	"errors"
	"time"
)

// Errors returned by every backend, wrapped or not, where storagetest.Backend says.
var (
	// ErrNotFound: no task, or no request record, with that id.
	ErrNotFound = errors.New("storage: not found")
	// ErrExists: CreateTask or RecordAmbiguousStart found the id taken.
	ErrExists = errors.New("storage: already exists")
	// ErrConflict: AppendResults was given a fromSeq that is not the task's result count,
	// i.e. another writer appended in between. Nothing was written.
	ErrConflict = errors.New("storage: concurrent append")
	// ErrLeaseLost: a fenced write (Update.Fence) was refused because its replica does not
	// hold a live lease on the task: another replica may poll it. Nothing was written.
	ErrLeaseLost = errors.New("storage: task lease lost")
)

// State is a task's life-cycle state. Its values match the contract's TaskState numbers.
type State int

// Task states.
const (
	StateRunning   State = 1
	StateSucceeded State = 2
	StateFailed    State = 3
	StateCanceled  State = 4
)

// Terminal reports whether s is a final state.
func (s State) Terminal() bool { return s == StateSucceeded || s == StateFailed || s == StateCanceled }

// Stats are Fiber's overall progress counts.
type Stats struct {
	TotalPeopleToFetch, NumCompleted, NumFailed, NumRemaining, NumRejected, NumDuplicates int
}

// Enrichment is the enrichment types in effect for a task (Fiber's defaults applied).
type Enrichment struct {
	WorkEmails, PersonalEmails, PhoneNumbers bool
}

// Task is everything stored about one task except its results.
type Task struct {
	// ID is Fiber's task id.
	ID string
	// Owner is the principal that started or adopted the task.
	Owner string
	// KeyID identifies the Fiber API key the task belongs to (fiber.KeyID); the key itself is
	// never stored.
	KeyID string
	// Enrichment is what was requested.
	Enrichment Enrichment
	// StartResponse is the encoded StartBatchResponse of the start (charge info included);
	// nil for an adopted task. Opaque to storage.
	StartResponse []byte
	// Cancellation is the encoded answer to a cancel made through fibergate; nil when there
	// was none. Opaque to storage; written by SetCancellation.
	Cancellation []byte
	// State is the task's state.
	State State
	// Stats are Fiber's latest counts.
	Stats Stats
	// Progress is where polling stands.
	Progress Progress
	// NumResults is how many results are stored; they have sequence numbers 1..NumResults.
	NumResults int
	// CreateTime, UpdateTime are set by the caller; FinishTime is zero while running.
	CreateTime, UpdateTime, FinishTime time.Time
}

// Progress is the poller's position in Fiber's result pages.
type Progress struct {
	// Cursor is the last cursor Fiber gave; empty before the first page.
	Cursor string
	// Skip is how many results after Cursor are already stored (Fiber may answer a caught-up
	// poll with a null cursor, so the next poll repeats Cursor and returns them again).
	Skip int
	// FiberDone: Fiber said done; only the remaining pages are left to drain.
	FiberDone bool
}

// Result is one stored person result.
type Result struct {
	// Seq is the 1-based position in arrival order.
	Seq int
	// Data is the encoded result (a PersonResult); opaque to storage.
	Data []byte
}

// Update is what one poll changes on a task, written together with its results.
type Update struct {
	State      State
	Stats      Stats
	Progress   Progress
	UpdateTime time.Time
	FinishTime time.Time // zero unless State is terminal
	// Fence, if not "", names the replica that must hold a live lease on the task for the
	// write to happen (else ErrLeaseLost), so that a poller that lost its lease cannot
	// write. "" writes unfenced. A backend that leases tasks enforces it; one that serves a
	// single process, where one poller per task is the engine's own doing, ignores it.
	Fence string
}

// ListFilter selects tasks for ListTasks.
type ListFilter struct {
	// Owner: only this principal's tasks. Required.
	Owner string
	// State: only tasks in this state; 0 means any.
	State State
	// PageSize is the maximum to return (> 0).
	PageSize int
	// After is the NextPage value of the previous page; zero for the first page.
	After PageKey
}

// PageKey is a position in the newest-first order of tasks.
type PageKey struct {
	CreateTime time.Time
	ID         string
}

// RequestState is where an idempotent request stands.
type RequestState int

// Request states.
const (
	// RequestPending: a replica (Owner) is sending the request upstream, and says it is alive
	// by renewing its lease (LeaseExpiry). Once the lease has run out, the replica is taken
	// for dead mid-request and the record becomes RequestUnknown.
	RequestPending RequestState = 1
	// RequestDone: the request succeeded; Response holds the answer to replay.
	RequestDone RequestState = 2
	// RequestUnknown: the request was sent and no answer came back: it may or may not have
	// taken effect, so it is never sent again under this key.
	RequestUnknown RequestState = 3
)

// Request is the record of one idempotent request (a StartBatch with a request_id).
type Request struct {
	// Key identifies the request: the principal and its request id.
	Key string
	// PayloadHash is a hash of the request's payload: the same key with another payload is
	// refused.
	PayloadHash string
	// State is where it stands.
	State RequestState
	// Response is the encoded answer once State is RequestDone.
	Response []byte
	// CreateTime is when it was claimed; ExpireTime when the record may be forgotten. Both
	// are the claiming replica's times.
	CreateTime, ExpireTime time.Time
	// Owner names the replica that claimed the request and sends it while it is pending.
	Owner string
	// LeaseExpiry is when the owner's lease on a pending request runs out unless renewed,
	// by the store's own clock (never a replica's: their clocks differ), so the store
	// sets it. The zero time is a lease that has run out.
	LeaseExpiry time.Time
}

// AmbiguousStart is the record of a start an operator must reconcile with Fiber's records of
// the key (credits used, tasks seen), because fibergate cannot tell the caller's batch
// apart from what Fiber did: either no usable answer came back, so Fiber may or may not have
// created (and charged) the task, or Fiber started the task and fibergate could not keep
// it. Kind says which. Such a start is never sent again on its own.
type AmbiguousStart struct {
	// ID is fibergate's name for the record, given to the caller and logged.
	ID string
	// Time is when the attempt failed.
	Time time.Time
	// Kind says what is known of the start.
	Kind AmbiguousKind
	// Owner is the principal that asked for the start.
	Owner string
	// KeyID names the Fiber key it was sent with (fiber.KeyID); never the key itself.
	KeyID string
	// RequestKey is the idempotency key of the request, "" if it had none.
	RequestKey string
	// URLs are the LinkedIn URLs sent, in order.
	URLs []string
	// TaskID is the id of the task Fiber started, when it answered; "" when the outcome is
	// unknown.
	TaskID string
	// Response is the encoded StartBatchResponse the caller was given; nil when there was
	// none. Opaque to storage.
	Response []byte
	// Error is the failure: the client's error when the outcome is unknown, the store's
	// when the task could not be kept (secrets redacted).
	Error string
}

// AmbiguousKind says what is known of an AmbiguousStart. The zero value, "", is read as
// AmbiguousOutcomeUnknown.
type AmbiguousKind string

// Kinds of ambiguous starts.
const (
	// AmbiguousOutcomeUnknown: the start was sent and no usable answer came back (no answer,
	// or a server error): Fiber may or may not have created and charged the task. TaskID is
	// "" and Response nil.
	AmbiguousOutcomeUnknown AmbiguousKind = "outcome_unknown"
	// AmbiguousNotRecorded: Fiber started the task (TaskID) and fibergate could not store
	// it when it answered; the caller had the answer (Response) in its error. fibergate
	// keeps trying to store the task and then follows it, unless the process stops first
	// (its RECONCILE log line names the task then).
	AmbiguousNotRecorded AmbiguousKind = "not_recorded"
	// AmbiguousIDConflict: Fiber started the task and answered with a task id (TaskID) that
	// fibergate already stores for another task, so the new task is not followed.
	AmbiguousIDConflict AmbiguousKind = "id_conflict"
)
