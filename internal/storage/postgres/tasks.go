package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fibergate/fibergate/internal/storage"
)

// taskColumns are the tasks columns in the order scanTask reads them.
const taskColumns = `id, owner, key_id, work_emails, personal_emails, phone_numbers,
	start_response, state, total_people_to_fetch, num_completed, num_failed, num_remaining,
	num_rejected, num_duplicates, cursor, skip, fiber_done, num_results,
	create_time, update_time, finish_time, cancellation`

// terminal and unfinished are the SQL conditions for a task in a final state and not (see
// storage.State.Terminal), as the partial indexes of 00001_tasks.sql state them.
const (
	terminal   = `state IN (2, 3, 4)`
	unfinished = `state NOT IN (2, 3, 4)`
)

// CreateTask stores t. t.NumResults must be 0: a new task has no results. storage.ErrExists
// if the id is taken.
func (s *Store) CreateTask(ctx context.Context, t storage.Task) error {
	if t.NumResults != 0 {
		return fmt.Errorf("create task %s: NumResults is %d, want 0", t.ID, t.NumResults)
	}
	ns, err := nanosAll(t.CreateTime, t.UpdateTime, t.FinishTime)
	if err != nil {
		return fmt.Errorf("create task %s: %w", t.ID, err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO tasks (`+taskColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
			$18, $19, $20, $21, $22)`,
		t.ID, t.Owner, t.KeyID, t.Enrichment.WorkEmails, t.Enrichment.PersonalEmails,
		t.Enrichment.PhoneNumbers, t.StartResponse, int(t.State), t.Stats.TotalPeopleToFetch,
		t.Stats.NumCompleted, t.Stats.NumFailed, t.Stats.NumRemaining, t.Stats.NumRejected,
		t.Stats.NumDuplicates, t.Progress.Cursor, t.Progress.Skip, t.Progress.FiberDone,
		0, ns[0], ns[1], ns[2], t.Cancellation)
	if isUniqueViolation(err) {
		return fmt.Errorf("create task %s: %w", t.ID, storage.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create task %s: %w", t.ID, err)
	}
	return nil
}

// GetTask returns a task. storage.ErrNotFound if unknown.
func (s *Store) GetTask(ctx context.Context, id string) (storage.Task, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = $1`, id)
	t, err := pgx.CollectExactlyOneRow(rows, scanTask)
	if err != nil {
		return storage.Task{}, fmt.Errorf("get task %s: %w", id, notFound(err))
	}
	return t, nil
}

// ListTasks returns a page of f.Owner's tasks, newest first. next is nil exactly when no task
// follows the page. It fails if f.Owner is empty or f.PageSize is not positive.
func (s *Store) ListTasks(ctx context.Context, f storage.ListFilter) ([]storage.Task, *storage.PageKey, error) {
	if f.Owner == "" || f.PageSize <= 0 {
		return nil, nil, fmt.Errorf("list tasks: need an owner and a positive page size, have %q and %d", f.Owner, f.PageSize)
	}
	query := `SELECT ` + taskColumns + ` FROM tasks WHERE owner = $1`
	args := []any{f.Owner}
	if f.State != 0 {
		args = append(args, int(f.State))
		query += ` AND state = $` + strconv.Itoa(len(args))
	}
	if !f.After.CreateTime.IsZero() || f.After.ID != "" {
		after, err := nanos(f.After.CreateTime)
		if err != nil {
			return nil, nil, fmt.Errorf("list tasks: page key: %w", err)
		}
		args = append(args, after, f.After.ID)
		query += fmt.Sprintf(` AND (create_time, id) < ($%d, $%d)`, len(args)-1, len(args))
	}
	// One more than asked tells whether another page follows.
	args = append(args, f.PageSize+1)
	query += ` ORDER BY create_time DESC, id DESC LIMIT $` + strconv.Itoa(len(args))

	tasks, err := s.queryTasks(ctx, query, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("list tasks of %s: %w", f.Owner, err)
	}
	if len(tasks) <= f.PageSize {
		return tasks, nil, nil
	}
	tasks = tasks[:f.PageSize]
	last := tasks[len(tasks)-1]
	return tasks, &storage.PageKey{CreateTime: last.CreateTime, ID: last.ID}, nil
}

// ListUnfinished returns every task not in a terminal state, oldest first.
func (s *Store) ListUnfinished(ctx context.Context) ([]storage.Task, error) {
	tasks, err := s.queryTasks(ctx, `SELECT `+taskColumns+` FROM tasks
		WHERE `+unfinished+` ORDER BY create_time, id`)
	if err != nil {
		return nil, fmt.Errorf("list unfinished tasks: %w", err)
	}
	return tasks, nil
}

// DeleteTask removes a task and its results. storage.ErrNotFound if unknown.
func (s *Store) DeleteTask(ctx context.Context, id string) error {
	// The results go with the task: ON DELETE CASCADE, in the same statement.
	if err := s.execOne(ctx, `DELETE FROM tasks WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete task %s: %w", id, err)
	}
	return nil
}

// SetCancellation stores the task's Cancellation. storage.ErrNotFound if unknown.
func (s *Store) SetCancellation(ctx context.Context, id string, cancellation []byte) error {
	if err := s.execOne(ctx, `UPDATE tasks SET cancellation = $1 WHERE id = $2`, cancellation, id); err != nil {
		return fmt.Errorf("set cancellation of task %s: %w", id, err)
	}
	return nil
}

// execOne runs a write that must touch a row: storage.ErrNotFound when it touched none.
func (s *Store) execOne(ctx context.Context, query string, args ...any) error {
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return storage.ErrNotFound
	}
	return nil
}

// PurgeFinished removes the tasks in a terminal state whose FinishTime is before before, with
// their results, and the ambiguous starts older than before, in one transaction. A terminal
// task without a FinishTime counts as finished at the zero time, before any cutoff.
func (s *Store) PurgeFinished(ctx context.Context, before time.Time) (int, error) {
	cutoff, err := nanos(before)
	if err != nil {
		return 0, fmt.Errorf("purge finished tasks: %w", err)
	}
	var n int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM tasks WHERE `+terminal+` AND finish_time < $1`, cutoff)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `DELETE FROM ambiguous_starts WHERE time < $1`, cutoff)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge finished tasks: %w", err)
	}
	return int(n), nil
}

// queryTasks runs a query selecting taskColumns.
func (s *Store) queryTasks(ctx context.Context, query string, args ...any) ([]storage.Task, error) {
	rows, _ := s.pool.Query(ctx, query, args...) // CollectRows returns its error
	return pgx.CollectRows(rows, scanTask)
}

// scanTask reads a row of taskColumns.
func scanTask(row pgx.CollectableRow) (storage.Task, error) {
	var (
		t                      storage.Task
		state                  int
		create, update, finish int64
	)
	err := row.Scan(&t.ID, &t.Owner, &t.KeyID, &t.Enrichment.WorkEmails,
		&t.Enrichment.PersonalEmails, &t.Enrichment.PhoneNumbers, &t.StartResponse, &state,
		&t.Stats.TotalPeopleToFetch, &t.Stats.NumCompleted, &t.Stats.NumFailed,
		&t.Stats.NumRemaining, &t.Stats.NumRejected, &t.Stats.NumDuplicates,
		&t.Progress.Cursor, &t.Progress.Skip, &t.Progress.FiberDone, &t.NumResults,
		&create, &update, &finish, &t.Cancellation)
	if err != nil {
		return storage.Task{}, err
	}
	t.State = storage.State(state)
	t.CreateTime, t.UpdateTime, t.FinishTime = fromNanos(create), fromNanos(update), fromNanos(finish)
	return t, nil
}
