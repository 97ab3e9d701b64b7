package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// migrations[i] brings the schema from version i to i+1; the version is kept in
// PRAGMA user_version, which is 0 in a new file. Only append to this list: a released
// migration never changes, and none may drop data.
//
// Times are unix nanoseconds, 0 for the zero time.Time. Booleans are 0 or 1.
func migrations() []string {
	return []string{
		// 1: tasks and results.
		`CREATE TABLE tasks (
			id                    TEXT    NOT NULL PRIMARY KEY,
			owner                 TEXT    NOT NULL,
			key_id                TEXT    NOT NULL,
			work_emails           INTEGER NOT NULL,
			personal_emails       INTEGER NOT NULL,
			phone_numbers         INTEGER NOT NULL,
			start_response        BLOB,
			state                 INTEGER NOT NULL,
			total_people_to_fetch INTEGER NOT NULL,
			num_completed         INTEGER NOT NULL,
			num_failed            INTEGER NOT NULL,
			num_remaining         INTEGER NOT NULL,
			num_rejected          INTEGER NOT NULL,
			num_duplicates        INTEGER NOT NULL,
			cursor                TEXT    NOT NULL,
			skip                  INTEGER NOT NULL,
			fiber_done            INTEGER NOT NULL,
			num_results           INTEGER NOT NULL,
			create_time           INTEGER NOT NULL,
			update_time           INTEGER NOT NULL,
			finish_time           INTEGER NOT NULL
		) STRICT;
		-- ListTasks: an owner's tasks, newest first.
		CREATE INDEX tasks_by_owner ON tasks (owner, create_time DESC, id DESC);
		-- ListUnfinished and PurgeFinished.
		CREATE INDEX tasks_by_state ON tasks (state, finish_time);
		-- Clustered by (task_id, seq): reading a page is one range scan.
		CREATE TABLE results (
			task_id TEXT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
			seq     INTEGER NOT NULL,
			data    BLOB    NOT NULL,
			PRIMARY KEY (task_id, seq)
		) STRICT, WITHOUT ROWID;`,
		// 2: idempotent requests.
		`CREATE TABLE requests (
			key          TEXT    NOT NULL PRIMARY KEY,
			payload_hash TEXT    NOT NULL,
			state        INTEGER NOT NULL,
			response     BLOB,
			create_time  INTEGER NOT NULL,
			expire_time  INTEGER NOT NULL
		) STRICT;
		-- PurgeRequests.
		CREATE INDEX requests_by_expiry ON requests (expire_time);`,
		// 3: starts whose outcome is unknown, for the operator. urls is a JSON array.
		`CREATE TABLE ambiguous_starts (
			id          TEXT    NOT NULL PRIMARY KEY,
			time        INTEGER NOT NULL,
			owner       TEXT    NOT NULL,
			key_id      TEXT    NOT NULL,
			request_key TEXT    NOT NULL,
			urls        TEXT    NOT NULL,
			error       TEXT    NOT NULL
		) STRICT;
		-- ListAmbiguousStarts and PurgeFinished.
		CREATE INDEX ambiguous_starts_by_time ON ambiguous_starts (time, id);`,
		// 4: Fiber's answer to a cancel, kept with the task.
		`ALTER TABLE tasks ADD COLUMN cancellation BLOB;`,
		// 5: what is known of an ambiguous start, and the task Fiber started, if it
		// answered. Every record before it was of unknown outcome.
		`ALTER TABLE ambiguous_starts ADD COLUMN kind TEXT NOT NULL DEFAULT 'outcome_unknown';
		ALTER TABLE ambiguous_starts ADD COLUMN task_id TEXT NOT NULL DEFAULT '';
		ALTER TABLE ambiguous_starts ADD COLUMN response BLOB;`,
		// 6: the replica sending a pending request, and until when its lease runs (by the
		// process's clock). A record from before has none: its lease has run out.
		`ALTER TABLE requests ADD COLUMN owner TEXT NOT NULL DEFAULT '';
		ALTER TABLE requests ADD COLUMN lease_expiry INTEGER NOT NULL DEFAULT 0;`,
	}
}

// migrate brings the schema in db up to date, all in one transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	steps := migrations()
	// BEGIN IMMEDIATE: of two processes opening a new file, one migrates, the other then
	// finds the schema up to date.
	return inTx(ctx, db, func(tx *sql.Tx) error {
		var version int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		switch {
		case version == len(steps):
			return nil
		case version > len(steps):
			return fmt.Errorf("schema version %d is newer than this program's %d", version, len(steps))
		}
		for v := version; v < len(steps); v++ {
			if _, err := tx.ExecContext(ctx, steps[v]); err != nil {
				return fmt.Errorf("migrate schema to version %d: %w", v+1, err)
			}
		}
		// PRAGMA takes no parameters; len(steps) is a number this package controls.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(steps))); err != nil {
			return fmt.Errorf("set schema version: %w", err)
		}
		return nil
	})
}

// inTx runs fn in a transaction on db (BEGIN IMMEDIATE on the writer) and commits it if fn
// returns nil, or rolls it back.
func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// ignoreDone drops sql.ErrTxDone: database/sql has rolled back a transaction whose context
// ended already.
func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}
