package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fibergate/fibergate/internal/storage"
)

// ambiguousColumns are the ambiguous_starts columns in the order the methods here write and
// read them.
const ambiguousColumns = `id, time, kind, owner, key_id, request_key, urls, task_id, response, error`

// RecordAmbiguousStart stores a. storage.ErrExists if a.ID is taken.
func (s *Store) RecordAmbiguousStart(ctx context.Context, a storage.AmbiguousStart) error {
	t, err := nanos(a.Time)
	if err != nil {
		return fmt.Errorf("record ambiguous start %s: %w", a.ID, err)
	}
	urls := a.URLs
	if urls == nil {
		urls = []string{} // pgx sends nil as NULL
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO ambiguous_starts (`+ambiguousColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		a.ID, t, string(a.Kind), a.Owner, a.KeyID, a.RequestKey, urls, a.TaskID, a.Response, a.Error)
	if isUniqueViolation(err) {
		return fmt.Errorf("record ambiguous start %s: %w", a.ID, storage.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("record ambiguous start %s: %w", a.ID, err)
	}
	return nil
}

// ListAmbiguousStarts returns the records made at or after since, oldest first.
func (s *Store) ListAmbiguousStarts(ctx context.Context, since time.Time) ([]storage.AmbiguousStart, error) {
	from, err := nanos(since)
	if err != nil {
		return nil, fmt.Errorf("list ambiguous starts: %w", err)
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+ambiguousColumns+`
		FROM ambiguous_starts WHERE time >= $1 ORDER BY time, id`, from)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.AmbiguousStart, error) {
		var (
			a    storage.AmbiguousStart
			t    int64
			kind string
		)
		err := row.Scan(&a.ID, &t, &kind, &a.Owner, &a.KeyID, &a.RequestKey, &a.URLs, &a.TaskID, &a.Response, &a.Error)
		a.Time, a.Kind = fromNanos(t), storage.AmbiguousKind(kind)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("list ambiguous starts: %w", err)
	}
	return out, nil
}
