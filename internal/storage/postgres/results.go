package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fibergate/fibergate/internal/storage"
)

// AppendResults stores results as fromSeq+1.. and applies u, in one transaction.
// storage.ErrConflict, with nothing written, unless fromSeq is the task's NumResults;
// storage.ErrNotFound if the task does not exist. A nil result is stored as an empty one.
func (s *Store) AppendResults(ctx context.Context, id string, fromSeq int, results [][]byte, u storage.Update) error {
	ns, err := nanosAll(u.UpdateTime, u.FinishTime)
	if err != nil {
		return fmt.Errorf("append results to task %s: %w", id, err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The compare-and-set: the row lock it takes holds off every other append to the task
		// until this transaction ends; one waiting on it then finds num_results moved.
		tag, err := tx.Exec(ctx, `UPDATE tasks SET state = $1,
			total_people_to_fetch = $2, num_completed = $3, num_failed = $4, num_remaining = $5,
			num_rejected = $6, num_duplicates = $7, cursor = $8, skip = $9, fiber_done = $10,
			num_results = $11, update_time = $12, finish_time = $13
			WHERE id = $14 AND num_results = $15`,
			int(u.State), u.Stats.TotalPeopleToFetch, u.Stats.NumCompleted, u.Stats.NumFailed,
			u.Stats.NumRemaining, u.Stats.NumRejected, u.Stats.NumDuplicates,
			u.Progress.Cursor, u.Progress.Skip, u.Progress.FiberDone,
			fromSeq+len(results), ns[0], ns[1], id, fromSeq)
		if err != nil {
			return fmt.Errorf("update: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return missingOrMoved(ctx, tx, id, fromSeq)
		}
		if len(results) == 0 {
			return nil
		}
		data := make([][]byte, len(results))
		for i, r := range results {
			data[i] = nonNil(r)
		}
		_, err = tx.Exec(ctx, `INSERT INTO results (task_id, seq, data)
			SELECT $1, $2 + r.n, r.data FROM unnest($3::bytea[]) WITH ORDINALITY AS r (data, n)`,
			id, fromSeq, data)
		if err != nil {
			return fmt.Errorf("insert results: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append results to task %s: %w", id, err)
	}
	return nil
}

// missingOrMoved says why an append from fromSeq matched no row: storage.ErrNotFound if the
// task is not stored, else storage.ErrConflict.
func missingOrMoved(ctx context.Context, tx pgx.Tx, id string, fromSeq int) error {
	var n int
	err := tx.QueryRow(ctx, `SELECT num_results FROM tasks WHERE id = $1`, id).Scan(&n)
	if err != nil {
		return notFound(err)
	}
	return fmt.Errorf("%w: from %d, have %d", storage.ErrConflict, fromSeq, n)
}

// ReadResults returns up to limit results with Seq > afterSeq, in order: an empty slice, not
// an error, if there are none, if limit is not positive, or if the task does not exist.
func (s *Store) ReadResults(ctx context.Context, id string, afterSeq, limit int) ([]storage.Result, error) {
	if limit <= 0 {
		return []storage.Result{}, nil
	}
	rows, _ := s.pool.Query(ctx, `SELECT seq, data FROM results
		WHERE task_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, id, afterSeq, limit)
	results, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.Result, error) {
		var r storage.Result
		err := row.Scan(&r.Seq, &r.Data)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("read results of task %s: %w", id, err)
	}
	return results, nil
}
