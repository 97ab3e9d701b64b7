package storagetest

import (
	"context"
	"time"

	"github.com/fibergate/fibergate/internal/storage"
)

// Backend is what a storage backend implements, and what Run tests: every method the
// consumers of the store call (the task engine's tasks.Store, the service's RequestStore and
// ReconcileStore, cmd/reconcile's listing), and Close. A backend that passes Run can be
// given to each of them.
//
// Every method is safe for concurrent use by any number of goroutines; a backend that
// several processes open at once (cmd/reconcile reads while the server runs) keeps every
// guarantee here across them. Close is called once, after every other call has returned.
//
// Errors: a method returns storage.ErrNotFound, storage.ErrExists or storage.ErrConflict,
// wrapped or not (callers match them with errors.Is), where its comment says so and for no
// other reason. Any other error is the backend's own (unreachable, busy, disk full, the
// context ended); a method that fails has written all it was asked to or nothing of it,
// never a part.
//
// Times come back as the same instants, to the nanosecond (the location may differ), and
// the zero time.Time comes back as the zero time. Byte slices (StartResponse,
// Cancellation, result data, responses) are opaque and come back byte for byte; nil and
// empty are alike, for byte slices as for lists.
//
// The package comment lists what the contract leaves to each backend.
type Backend interface {
	// CreateTask stores a new task, with t.NumResults 0 and no results. storage.ErrExists
	// if a task with t.ID is stored: then nothing is written.
	CreateTask(ctx context.Context, t storage.Task) error
	// GetTask returns the task with every field as last written. storage.ErrNotFound if
	// there is none.
	GetTask(ctx context.Context, id string) (storage.Task, error)
	// ListTasks returns up to f.PageSize tasks of f.Owner (in state f.State unless it is 0),
	// newest first: by CreateTime descending, then by ID descending compared byte by byte.
	// The page starts after the position f.After (the first page when it is zero). next is
	// the position of the page's last task when another task follows it, and nil exactly
	// when none does. A page holds the tasks ordered after its start position as the store
	// is when it is read: a task created between pages shows up in a later page exactly
	// when it is ordered after the position it starts from.
	ListTasks(ctx context.Context, f storage.ListFilter) (tasks []storage.Task, next *storage.PageKey, err error)
	// ListUnfinished returns every task not in a terminal state, in any order.
	ListUnfinished(ctx context.Context) ([]storage.Task, error)
	// AppendResults, in one atomic step, stores results as the task's results fromSeq+1,
	// fromSeq+2, ..., adds len(results) to its NumResults, and sets its State, Stats,
	// Progress, UpdateTime and FinishTime from u (Cancellation and the rest are kept). With
	// no results it still checks fromSeq and applies u.
	//
	// fromSeq must be the task's NumResults: if it is not (another writer appended
	// meanwhile), storage.ErrConflict and nothing is written; of concurrent appends from
	// the same fromSeq exactly one succeeds. storage.ErrNotFound if the task is not stored.
	// Readers see all of an append or none of it: results read before a GetTask never
	// outnumber its NumResults, and results read after it never fall short of it.
	//
	// u.Fence is for backends that lease tasks (LeaseBackend), which must enforce it: see
	// there. A backend that does not lease tasks serves one process, whose engine runs one
	// poller per task itself, and ignores it.
	AppendResults(ctx context.Context, id string, fromSeq int, results [][]byte, u storage.Update) error
	// ReadResults returns up to limit of the task's results with Seq > afterSeq, in Seq
	// order; none (and no error) past the last one.
	ReadResults(ctx context.Context, id string, afterSeq, limit int) ([]storage.Result, error)
	// SetCancellation sets the task's Cancellation and changes nothing else.
	// storage.ErrNotFound if there is no such task.
	SetCancellation(ctx context.Context, id string, cancellation []byte) error
	// DeleteTask removes the task and all its results: a task created later with the same
	// id starts with none. storage.ErrNotFound if there is no such task.
	DeleteTask(ctx context.Context, id string) error
	// PurgeFinished removes the tasks in a terminal state whose FinishTime is before before
	// (strictly), with their results, and returns how many tasks it removed; a task that is
	// not terminal stays whatever its FinishTime. It also removes the ambiguous-start records
	// whose Time is before before (strictly), which are not counted.
	PurgeFinished(ctx context.Context, before time.Time) (int, error)

	// ClaimRequest claims r.Key for a new idempotent request. If a record of r.Key lives
	// at r.CreateTime (its ExpireTime is after r.CreateTime), it writes nothing and returns
	// that record, claimed false. Otherwise it stores r as a new record in state
	// storage.RequestPending with no response, owned by r.Owner with a lease that runs out
	// lease from now by the store's clock (r.LeaseExpiry is ignored), replacing an expired
	// record of the key and everything in it, and returns claimed true. Of concurrent claims
	// of one key, exactly one is claimed; the others return its record.
	ClaimRequest(ctx context.Context, r storage.Request, lease time.Duration) (existing storage.Request, claimed bool, err error)
	// GetRequest returns the record of key if it lives at now (its ExpireTime is after
	// now), as ClaimRequest decides. storage.ErrNotFound if there is none or it has
	// expired. No server code calls it; the suite observes records through it.
	GetRequest(ctx context.Context, key string, now time.Time) (storage.Request, error)
	// RenewRequest extends owner's lease on key's record to lease from now, by the store's
	// clock, if the record is pending and owned by owner, and reports whether it did; it
	// changes nothing else. A lease that has run out is extended too as long as the record
	// is pending: nobody has taken the owner for dead until ResolveRequest does. false, and
	// no error, when there is no record of key or it is not pending or not owner's.
	RenewRequest(ctx context.Context, key, owner string, lease time.Duration) (bool, error)
	// ResolveRequest returns the record of key if it lives at now, as GetRequest does, but
	// first gives up a pending record whose lease has run out by the store's clock: its
	// owner is taken for dead mid-request, and its State set to storage.RequestUnknown
	// (nothing else changes). The check and the change are one atomic step: a RenewRequest
	// of the record comes before it (and the lease is live again) or after it (and renews
	// nothing). storage.ErrNotFound if there is no record or it has expired; an expired
	// record is not changed.
	ResolveRequest(ctx context.Context, key string, now time.Time) (storage.Request, error)
	// FinishRequest sets the State and Response of key's record, changing nothing else.
	// storage.ErrNotFound if there is no record of key.
	FinishRequest(ctx context.Context, key string, state storage.RequestState, response []byte) error
	// ReleaseRequest deletes key's record, so that the key can be claimed again at once.
	// No error if there is none.
	ReleaseRequest(ctx context.Context, key string) error
	// PurgeRequests deletes the records whose ExpireTime is before before (strictly) and
	// returns how many it deleted.
	PurgeRequests(ctx context.Context, before time.Time) (int, error)

	// RecordAmbiguousStart stores a, every field as given. storage.ErrExists if a record
	// with a.ID is stored: then nothing is written.
	RecordAmbiguousStart(ctx context.Context, a storage.AmbiguousStart) error
	// ListAmbiguousStarts returns the records whose Time is at or after since, oldest
	// first: by Time, then by ID ascending compared byte by byte.
	ListAmbiguousStarts(ctx context.Context, since time.Time) ([]storage.AmbiguousStart, error)

	// Ping reports whether the store can be reached now: nil once a call that writes nothing
	// reached it, an error if it could not (unreachable, refusing connections, the context
	// ended). It never waits for a write in progress. The server calls it every second.
	Ping(ctx context.Context) error

	// Close releases the backend's resources. It is called once, after every other call
	// has returned; no method is called after it.
	Close() error
}

// LeaseBackend is a Backend that several processes (replicas) share, and that leases tasks
// to them so that one replica at a time polls each task: what tasks.Leases asks, and Fence.
// RunLeases tests it.
//
// A lease names its replica and expires by the backend's own clock (the database's, never a
// replica's: their clocks differ). A replica holds a live lease on a task from a claim until
// the lease expires or is released; while it does, no other replica's claim of the task
// succeeds. A new task is held by nobody. Leases do not survive DeleteTask.
//
// Fence: AppendResults with u.Fence != "" writes only if replica u.Fence holds a live lease
// on the task, checked in the same atomic step as fromSeq; otherwise it returns
// storage.ErrLeaseLost and writes nothing. When the task is not stored, storage.ErrNotFound;
// when the lease is live and fromSeq is stale, storage.ErrConflict; when both the lease is
// not held and fromSeq is stale, either of ErrLeaseLost and ErrConflict.
type LeaseBackend interface {
	Backend
	// ClaimTasks leases to replica, for ttl, up to max unfinished tasks whose KeyID is one of
	// keyIDs and on which no replica holds a live lease (never leased, released, or
	// expired), and returns their ids; the oldest such tasks, by CreateTime then ID, and in
	// that order. Of concurrent claims, no two get the same task: each claimer skips the
	// tasks another is claiming.
	ClaimTasks(ctx context.Context, replica string, keyIDs []string, ttl time.Duration, max int) ([]string, error)
	// ClaimTask leases the task to replica for ttl unless another replica holds a live lease
	// on it, and reports whether replica holds it now (a lease replica held is extended).
	// A finished task is not leased: false. storage.ErrNotFound if there is no such task.
	ClaimTask(ctx context.Context, replica, id string, ttl time.Duration) (bool, error)
	// RenewLeases extends to ttl from now the live leases replica holds on the tasks ids, and
	// returns the ids of those (in any order): a lease that expired, or that replica does not
	// hold, is not renewed; unknown ids are left out.
	RenewLeases(ctx context.Context, replica string, ids []string, ttl time.Duration) ([]string, error)
	// ReleaseLeases ends the leases replica holds on the tasks ids, so that any replica may
	// claim them at once. Leases other replicas hold, and unknown ids, are left alone.
	ReleaseLeases(ctx context.Context, replica string, ids ...string) error
}
