package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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
	urls, err := json.Marshal(a.URLs)
	if err != nil {
		return fmt.Errorf("record ambiguous start %s: %w", a.ID, err)
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO ambiguous_starts (`+ambiguousColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, t, string(a.Kind), a.Owner, a.KeyID, a.RequestKey, string(urls), a.TaskID, a.Response, a.Error)
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
	rows, err := s.read.QueryContext(ctx, `SELECT `+ambiguousColumns+`
		FROM ambiguous_starts WHERE time >= ? ORDER BY time, id`, from)
	if err != nil {
		return nil, fmt.Errorf("list ambiguous starts: %w", err)
	}
	out := []storage.AmbiguousStart{}
	for rows.Next() {
		var (
			a    storage.AmbiguousStart
			t    int64
			urls string
		)
		if err := rows.Scan(&a.ID, &t, &a.Kind, &a.Owner, &a.KeyID, &a.RequestKey, &urls, &a.TaskID, &a.Response, &a.Error); err != nil {
			return nil, errors.Join(fmt.Errorf("list ambiguous starts: %w", err), rows.Close())
		}
		if err := json.Unmarshal([]byte(urls), &a.URLs); err != nil {
			return nil, errors.Join(fmt.Errorf("list ambiguous starts: record %s: %w", a.ID, err), rows.Close())
		}
		a.Time = fromNanos(t)
		out = append(out, a)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("list ambiguous starts: %w", err)
	}
	return out, nil
}
