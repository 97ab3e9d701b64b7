package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fibergate/fibergate/internal/storage"
)

// dbNow is the database's clock in unix nanoseconds, as lease_expiry keeps it (of tasks and
// of requests) and purge_runs.last_run: the start of the statement, so that it is one value
// throughout a statement and may bound an index scan. Leases and purge turns are timed by it
// alone, never by a replica's clock.
const dbNow = `(extract(epoch FROM statement_timestamp()) * 1000000000)::bigint`

// liveLease is the SQL condition for a task whose lease replica $1 holds.
const liveLease = `lease_owner = $1 AND lease_expiry > ` + dbNow

// ClaimTasks leases to replica, for ttl, up to max unfinished tasks under keyIDs that nobody
// holds, oldest first. The rows are taken with FOR UPDATE SKIP LOCKED: of concurrent
// claimers, each skips the rows another is claiming, so none is handed out twice and none
// waits for another.
func (s *Store) ClaimTasks(ctx context.Context, replica string, keyIDs []string, ttl time.Duration, max int) ([]string, error) {
	if len(keyIDs) == 0 || max <= 0 {
		return nil, nil
	}
	rows, _ := s.pool.Query(ctx, `WITH claimed AS (
			UPDATE tasks SET lease_owner = $1, lease_expiry = `+dbNow+` + $2
			WHERE id IN (
				SELECT id FROM tasks
				WHERE `+unfinished+` AND lease_expiry <= `+dbNow+` AND key_id = ANY($3)
				ORDER BY create_time, id LIMIT $4
				FOR UPDATE SKIP LOCKED)
			RETURNING id, create_time)
		SELECT id FROM claimed ORDER BY create_time, id`, replica, ttl.Nanoseconds(), keyIDs, max)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("claim tasks for %s: %w", replica, err)
	}
	return ids, nil
}

// ClaimTask leases the task to replica for ttl unless another replica holds it live. The
// UPDATE's row lock orders concurrent claims of one task: each sees the one before it
// committed, so at most one of them finds the task free. storage.ErrNotFound if unknown.
func (s *Store) ClaimTask(ctx context.Context, replica, id string, ttl time.Duration) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE tasks SET lease_owner = $1, lease_expiry = `+dbNow+` + $2
		WHERE id = $3 AND `+unfinished+` AND (lease_owner = $1 OR lease_expiry <= `+dbNow+`)`,
		replica, ttl.Nanoseconds(), id)
	if err != nil {
		return false, fmt.Errorf("claim task %s for %s: %w", id, replica, err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tasks WHERE id = $1)`, id).Scan(&exists); err != nil {
		return false, fmt.Errorf("claim task %s for %s: %w", id, replica, err)
	}
	if !exists {
		return false, fmt.Errorf("claim task %s for %s: %w", id, replica, storage.ErrNotFound)
	}
	return false, nil
}

// RenewLeases extends replica's live leases of ids to ttl from now and returns their ids.
func (s *Store) RenewLeases(ctx context.Context, replica string, ids []string, ttl time.Duration) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, _ := s.pool.Query(ctx, `UPDATE tasks SET lease_expiry = `+dbNow+` + $2
		WHERE id = ANY($3) AND `+liveLease+` RETURNING id`, replica, ttl.Nanoseconds(), ids)
	kept, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("renew leases of %s: %w", replica, err)
	}
	return kept, nil
}

// ReleaseLeases ends replica's leases of ids, live or not.
func (s *Store) ReleaseLeases(ctx context.Context, replica string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE tasks SET lease_owner = '', lease_expiry = 0
		WHERE id = ANY($2) AND lease_owner = $1`, replica, ids)
	if err != nil {
		return fmt.Errorf("release leases of %s: %w", replica, err)
	}
	return nil
}
