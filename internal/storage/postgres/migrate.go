package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrationFiles holds the schema's migrations, NNNNN_name.sql, applied in order, each in its
// own transaction. Only append to them: a released migration never changes, and none may drop
// data.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// Names of goose's tables, in the DSN's schema (the first of its search_path), named for
// fibergate so that they cannot be another program's in a shared database.
const (
	// versionTable records the migrations applied.
	versionTable = "fibergate_schema_version"
	// lockTable holds the lease of the process migrating.
	lockTable = "fibergate_schema_lock"
)

// The migration lock's lease: a process that dies while migrating holds the lock this long
// at most. The heartbeat renews it well before.
const (
	lockLease     = 10 * time.Second
	lockHeartbeat = 2 * time.Second
	lockRetry     = 250 * time.Millisecond
)

// migrate brings the schema up to date, as one of any number of processes that may do it at
// once, and refuses a schema newer than this program's.
//
// The processes take turns under goose's table locker (lock.NewPostgresTableLocker): a row of
// lockTable leased to one process, claimed with INSERT ... ON CONFLICT and renewed by a
// heartbeat, by the database's clock. Each step is one short statement, so it works through a
// transaction-pooling proxy (PgBouncer) as well as directly; a session advisory lock
// (lock.NewPostgresSessionLocker) does not, since the lock and its release may reach
// different server connections, and leaves the lock held by a pooled connection if the
// release misses it. A transaction-level advisory lock would need all the migrations in the
// lock's transaction, which goose's provider does not do. The price of the lease is that a
// process killed while migrating (its migration transaction rolls back) delays the others by
// up to lockLease. The others poll for the lock every lockRetry, until ctx ends.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	locker, err := lock.NewPostgresTableLocker(
		lock.WithTableName(lockTable),
		lock.WithTableLeaseDuration(lockLease),
		lock.WithTableHeartbeatInterval(lockHeartbeat),
		lock.WithTableLockTimeout(lockRetry, uint64(time.Hour/lockRetry)), // ctx bounds it
		lock.WithTableUnlockTimeout(lockRetry, 20),
		lock.WithTableLogger(slog.New(slog.DiscardHandler)), // its failures are returned
	)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return withProvider(pool, func(p *goose.Provider) error {
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		return checkVersion(ctx, p)
	}, goose.WithLocker(locker))
}

// checkSchema fails unless the database holds the schema at this program's version. It
// changes nothing.
func checkSchema(ctx context.Context, pool *pgxpool.Pool) error {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, versionTable).Scan(&exists); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if !exists {
		return errors.New("no fibergate schema in this database (a server creates it when it starts)")
	}
	return withProvider(pool, func(p *goose.Provider) error {
		if err := checkVersion(ctx, p); err != nil {
			return err
		}
		pending, err := p.HasPending(ctx)
		if err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if pending {
			return errors.New("the schema is older than this program's (a server of this version migrates it when it starts)")
		}
		return nil
	})
}

// checkVersion fails if the database's schema is newer than this program's migrations.
func checkVersion(ctx context.Context, p *goose.Provider) error {
	current, target, err := p.GetVersions(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > target {
		return fmt.Errorf("schema version %d is newer than this program's %d", current, target)
	}
	return nil
}

// withProvider runs fn with a goose provider of the migrations on pool.
func withProvider(pool *pgxpool.Pool, fn func(*goose.Provider) error, opts ...goose.ProviderOption) error {
	files, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	db := stdlib.OpenDBFromPool(pool) // closing it leaves the pool open
	defer db.Close()
	opts = append(opts,
		goose.WithTableName(versionTable),
		goose.WithDisableGlobalRegistry(true),
		goose.WithLogger(goose.NopLogger()),
	)
	p, err := goose.NewProvider(goose.DialectPostgres, db, files, opts...)
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	return fn(p)
}
