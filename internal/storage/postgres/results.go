package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fibergate/fibergate/internal/storage"
)

// AppendResults stores results as fromSeq+1.. and applies u, in one transaction.
// storage.ErrConflict, with nothing written, unless fromSeq is the task's NumResults;
// storage.ErrLeaseLost, with nothing written, if u.Fence is set and that replica holds no
// live lease on the task (this comes first when both fail); storage.ErrNotFound if the task
// does not exist. A nil result is stored as an empty one.
func (s *Store) AppendResults(ctx context.Context, id string, fromSeq int, results [][]byte, u storage.Update) error {
	ns, err := nanosAll(u.UpdateTime, u.FinishTime)
	if err != nil {
		return fmt.Errorf("append results to task %s: %w", id, err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The compare-and-set, of the count and of the lease when fenced: the row lock it
		// takes holds off every other append (and claim) of the task until this transaction
		// ends; one waiting on it then finds num_results moved.
		tag, err := tx.Exec(ctx, `UPDATE tasks SET state = $1,
			total_people_to_fetch = $2, num_completed = $3, num_failed = $4, num_remaining = $5,
			num_rejected = $6, num_duplicates = $7, cursor = $8, skip = $9, fiber_done = $10,
			num_results = $11, update_time = $12, finish_time = $13
			WHERE id = $14 AND num_results = $15
				AND ($16 = '' OR (lease_owner = $16 AND lease_expiry > `+dbNow+`))`,
			int(u.State), u.Stats.TotalPeopleToFetch, u.Stats.NumCompleted, u.Stats.NumFailed,
			u.Stats.NumRemaining, u.Stats.NumRejected, u.Stats.NumDuplicates,
			u.Progress.Cursor, u.Progress.Skip, u.Progress.FiberDone,
			fromSeq+len(results), ns[0], ns[1], id, fromSeq, u.Fence)
		if err != nil {
			return fmt.Errorf("update: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return whyRefused(ctx, tx, id, fromSeq, u.Fence)
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

// whyRefused says why an append from fromSeq fenced by fence matched no row:
// storage.ErrNotFound if the task is not stored, storage.ErrLeaseLost if fence is set and
// holds no live lease on it, else storage.ErrConflict.
func whyRefused(ctx context.Context, tx pgx.Tx, id string, fromSeq int, fence string) error {
	var (
		n    int
		held bool
	)
	err := tx.QueryRow(ctx, `SELECT num_results, `+liveLease+` FROM tasks WHERE id = $2`, fence, id).Scan(&n, &held)
	switch {
	case err != nil:
		return notFound(err)
	case fence != "" && !held:
		return fmt.Errorf("%w: %s holds no live lease", storage.ErrLeaseLost, fence)
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
