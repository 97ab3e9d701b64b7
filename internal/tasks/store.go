package tasks

import (
	"context"
	"time"

	"github.com/fibergate/fibergate/internal/storage"
)

// Store keeps tasks and their results: the engine's source of truth. Every storage backend
// implements it (storagetest.Backend states the full contract, and its suite checks it).
// Its methods must be safe for concurrent use: pollers, watchers and RPCs call them at once.
//
// What the engine relies on:
//   - CreateTask refuses a taken id with storage.ErrExists (two callers adopting one task
//     at once both end up with the stored one); GetTask, SetCancellation and DeleteTask
//     report an unknown id with storage.ErrNotFound.
//   - AppendResults stores a poll's results and its Update in one atomic step, and only if
//     fromSeq is the task's NumResults (else storage.ErrConflict, nothing written): a
//     poller resumed after a crash or a store error reloads the task and continues from a
//     cursor that matches exactly the results stored. storage.ErrNotFound if the task was
//     deleted meanwhile.
//   - ReadResults returns results in Seq order, and readers never see part of an append,
//     so a watcher reading from its own position misses nothing and gets nothing twice.
//   - ListTasks pages an owner's tasks newest first (Engine.List passes it through),
//     ListUnfinished returns every task to resume, and PurgeFinished removes the terminal
//     tasks that finished before a time, with their results.
type Store interface {
	CreateTask(ctx context.Context, t storage.Task) error
	GetTask(ctx context.Context, id string) (storage.Task, error)
	ListTasks(ctx context.Context, f storage.ListFilter) (tasks []storage.Task, next *storage.PageKey, err error)
	ListUnfinished(ctx context.Context) ([]storage.Task, error)
	AppendResults(ctx context.Context, id string, fromSeq int, results [][]byte, u storage.Update) error
	ReadResults(ctx context.Context, id string, afterSeq, limit int) ([]storage.Result, error)
	SetCancellation(ctx context.Context, id string, cancellation []byte) error
	DeleteTask(ctx context.Context, id string) error
	PurgeFinished(ctx context.Context, before time.Time) (int, error)
}
