package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/fibergate/fibergate/internal/storage"
)

// insertBatch is how many results one INSERT statement stores: fewer statements for a page
// of results, while the parameters (3 per result) stay far below SQLite's limit of 32766.
const insertBatch = 100

// AppendResults stores results as fromSeq+1.. and applies u, in one transaction.
// storage.ErrConflict, with nothing written, unless fromSeq is the task's NumResults;
// storage.ErrNotFound if the task does not exist. A nil result is stored as an empty one.
func (s *Store) AppendResults(ctx context.Context, id string, fromSeq int, results [][]byte, u storage.Update) error {
	ns, err := nanosAll(u.UpdateTime, u.FinishTime)
	if err != nil {
		return fmt.Errorf("append results to task %s: %w", id, err)
	}
	err = inTx(ctx, s.write, func(tx *sql.Tx) error {
		// The writer's BEGIN IMMEDIATE holds the write lock from here: no other append can
		// slip in between this check and the commit.
		var n int
		err := tx.QueryRowContext(ctx, `SELECT num_results FROM tasks WHERE id = ?`, id).Scan(&n)
		if err != nil {
			return notFound(err)
		}
		if n != fromSeq {
			return fmt.Errorf("%w: from %d, have %d", storage.ErrConflict, fromSeq, n)
		}
		if err := insertResults(ctx, tx, id, fromSeq, results); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE tasks SET state = ?,
			total_people_to_fetch = ?, num_completed = ?, num_failed = ?, num_remaining = ?,
			num_rejected = ?, num_duplicates = ?, cursor = ?, skip = ?, fiber_done = ?,
			num_results = ?, update_time = ?, finish_time = ? WHERE id = ?`,
			u.State, u.Stats.TotalPeopleToFetch, u.Stats.NumCompleted, u.Stats.NumFailed,
			u.Stats.NumRemaining, u.Stats.NumRejected, u.Stats.NumDuplicates,
			u.Progress.Cursor, u.Progress.Skip, u.Progress.FiberDone,
			fromSeq+len(results), ns[0], ns[1], id)
		if err != nil {
			return fmt.Errorf("update: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append results to task %s: %w", id, err)
	}
	return nil
}

// insertResults stores results as fromSeq+1.., insertBatch to a statement.
func insertResults(ctx context.Context, tx *sql.Tx, id string, fromSeq int, results [][]byte) error {
	var (
		query string // for batches of len(batch) results
		args  []any
	)
	for start := 0; start < len(results); start += insertBatch {
		batch := results[start:min(start+insertBatch, len(results))]
		if len(batch)*3 != len(args) {
			query = `INSERT INTO results (task_id, seq, data) VALUES ` +
				strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(batch)), ", ")
			args = make([]any, len(batch)*3)
		}
		for i, data := range batch {
			if data == nil {
				data = []byte{} // the driver would bind nil as NULL
			}
			args[3*i], args[3*i+1], args[3*i+2] = id, fromSeq+start+i+1, data
		}
		if _, err := tx.ExecContext(ctx, query, args...); err != nil {
			return fmt.Errorf("insert results: %w", err)
		}
	}
	return nil
}

// ReadResults returns up to limit results with Seq > afterSeq, in order: an empty slice, not
// an error, if there are none, if limit is not positive, or if the task does not exist.
func (s *Store) ReadResults(ctx context.Context, id string, afterSeq, limit int) ([]storage.Result, error) {
	if limit <= 0 {
		return []storage.Result{}, nil
	}
	rows, err := s.read.QueryContext(ctx, `SELECT seq, data FROM results
		WHERE task_id = ? AND seq > ? ORDER BY seq LIMIT ?`, id, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("read results of task %s: %w", id, err)
	}
	results := make([]storage.Result, 0, min(limit, 1000))
	for rows.Next() {
		var r storage.Result
		if err := rows.Scan(&r.Seq, &r.Data); err != nil {
			return nil, fmt.Errorf("read results of task %s: %w", id, errors.Join(err, rows.Close()))
		}
		results = append(results, r)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read results of task %s: %w", id, err)
	}
	return results, nil
}
