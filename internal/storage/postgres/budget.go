package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// UpdateWindow calls fn with the budget window of keyID at endpoint (nil when the pair has
// none yet) and the database's clock (clock_timestamp(), microseconds), read once the window's
// row is locked, and stores what fn returns unless it is nil, all in one transaction: an
// UpdateWindow of the same pair in any process waits for the row's lock, so fn's calls on one
// pair follow each other in the order of their times. An error from fn rolls the transaction
// back and is returned, wrapped. It implements budget.Ledger.
//
// It takes one connection of the pool while it runs: BEGIN, SELECT ... FOR UPDATE, an UPDATE
// when fn changed the window, COMMIT; the first use of a pair adds an INSERT and a second
// SELECT.
func (s *Store) UpdateWindow(ctx context.Context, keyID, endpoint string, fn func(now time.Time, state []byte) ([]byte, error)) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		state, now, err := lockWindow(ctx, tx, keyID, endpoint)
		if errors.Is(err, pgx.ErrNoRows) {
			// Of concurrent first uses one inserts; the others find its row once it commits.
			if _, err := tx.Exec(ctx, `INSERT INTO budget_windows (key_id, endpoint, state) VALUES ($1, $2, '')
				ON CONFLICT DO NOTHING`, keyID, endpoint); err != nil {
				return fmt.Errorf("insert: %w", err)
			}
			state, now, err = lockWindow(ctx, tx, keyID, endpoint)
		}
		if err != nil {
			return err
		}
		out, err := fn(now, state)
		if err != nil || out == nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE budget_windows SET state = $3 WHERE key_id = $1 AND endpoint = $2`,
			keyID, endpoint, out); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update budget window of %s/%s: %w", keyID, endpoint, err)
	}
	return nil
}

// lockWindow locks the row of keyID at endpoint and returns its state (nil when empty) and the
// time, read after the lock is held: the outer SELECT's clock_timestamp() is evaluated as the
// locked row comes out of the inner one, so a transaction that waited for the lock does not
// get the time it began to wait. It returns pgx.ErrNoRows when there is no row.
func lockWindow(ctx context.Context, tx pgx.Tx, keyID, endpoint string) ([]byte, time.Time, error) {
	var (
		state []byte
		now   time.Time
	)
	err := tx.QueryRow(ctx, `SELECT w.state, clock_timestamp() FROM (
			SELECT state FROM budget_windows WHERE key_id = $1 AND endpoint = $2 FOR UPDATE
		) w`, keyID, endpoint).Scan(&state, &now)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, time.Time{}, err
		}
		return nil, time.Time{}, fmt.Errorf("lock: %w", err)
	}
	if len(state) == 0 {
		state = nil
	}
	return state, now, nil
}
