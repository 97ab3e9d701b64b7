package postgres

import (
	"context"
	"fmt"
	"time"
)

// TakePurgeTurn reports whether the caller is to run the periodic purge called name now: true
// when no caller took a turn of name in the last every, by the database's clock, and then
// records this turn; false, writing nothing, otherwise. Of concurrent callers at most one gets
// true. One INSERT ... ON CONFLICT of the purge's row: a concurrent caller waits for the row
// lock and then checks the turn the first recorded. every <= 0 asks for no spacing.
func (s *Store) TakePurgeTurn(ctx context.Context, name string, every time.Duration) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO purge_runs AS p (name, last_run) VALUES ($1, `+dbNow+`)
		ON CONFLICT (name) DO UPDATE SET last_run = excluded.last_run
		WHERE p.last_run <= excluded.last_run - $2`, name, every.Nanoseconds())
	if err != nil {
		return false, fmt.Errorf("take purge turn %s: %w", name, err)
	}
	return tag.RowsAffected() == 1, nil
}
