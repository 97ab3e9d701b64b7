// Package postgres is a storage backend (storagetest.Backend) kept in a PostgreSQL database,
// which any number of fibergate processes may share. It uses github.com/jackc/pgx/v5 (a
// connection pool) and migrates its schema at Open with github.com/pressly/goose/v3, from
// the SQL files embedded from migrations/.
//
// # Concurrency
//
// Every method is one statement, or one transaction at the server's default isolation (READ
// COMMITTED), so a reader sees one committed state and never half of an AppendResults.
// AppendResults is a compare-and-set on the task's row (UPDATE ... WHERE num_results =
// fromSeq): of concurrent appends from the same fromSeq, the first takes the row lock and the
// others, once it commits, find the count moved and are refused. ClaimRequest is one INSERT
// ... ON CONFLICT that replaces only an expired record, so of concurrent claims one inserts
// and the others find its record. These hold across processes: they are the database's.
// A pending request's lease is timed by the database's clock (statement_timestamp), never a
// replica's; RenewRequest and ResolveRequest are each one UPDATE of the record's row, so the
// row lock orders them. The store is a storagetest.PurgeTurnBackend: a purge's turns are one
// row of purge_runs, taken by one INSERT ... ON CONFLICT, with no session state.
//
// # Leases
//
// The Store is a storagetest.LeaseBackend: a task's lease is two columns of its row (owner
// and expiry), timed by the database's clock (statement_timestamp), never a replica's.
// ClaimTasks takes free rows with FOR UPDATE SKIP LOCKED, so concurrent claimers never
// meet; a fenced AppendResults checks the lease in the same UPDATE as its compare-and-set.
// Every step is one statement: no session state (advisory locks), so leases work through a
// transaction-pooling proxy and do not vanish with a connection.
//
// # Signals
//
// The Store carries the replicas' signals (tasks.Signals) with LISTEN/NOTIFY on a channel of
// its schema: Publish is one pg_notify through the pool; Listen holds a connection of its own
// outside the pool (application_name fibergate/signals), since LISTEN belongs to a session.
// They are hints: a notification sent while a listener is disconnected is lost to it.
//
// # Durability
//
// A method returns once PostgreSQL has committed, with the durability the server is
// configured for (synchronous_commit).
//
// # Where the storage contract leaves room
//
// ReadResults on an unknown task returns no results rather than storage.ErrNotFound. Times
// are kept as unix nanoseconds and come back in UTC; times before 1678 or after 2262 are
// refused. A terminal task without a FinishTime counts as finished at the zero time, before
// any cutoff, so any PurgeFinished purges it. ListTasks refuses a filter without an owner or a
// positive page size, CreateTask a task with results. ClaimRequest refuses a request whose
// ExpireTime is not after its CreateTime, and a claimed record starts without a response
// whatever the Request says. A request lease of zero has run out as soon as it is granted. FinishRequest still finishes a record that has expired but is not
// purged yet. Strings are PostgreSQL text: one holding a NUL byte or invalid UTF-8 is refused
// with the server's error.
//
// # Connecting
//
// Open takes a libpq connection string in either form, a postgres:// or postgresql:// URL or
// "host=... dbname=...", with pgx's additions (pool_max_conns and the like). Errors and logs
// name the database with its password masked (Redact). Statements are prepared and cached per
// connection (pgx's default); behind a transaction-pooling PgBouncer that does not track
// prepared statements (before 1.21, or max_prepared_statements 0), add
// default_query_exec_mode=exec to the DSN. Listen needs a session: through a
// transaction-pooling proxy no notification arrives, and replicas rely on their periodic
// reads of the store.
package postgres

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// defaultConnectTimeout bounds each connection attempt when the DSN sets no connect_timeout,
// so that an unreachable server fails Open rather than hang it.
const defaultConnectTimeout = 10 * time.Second

// Store is the storage backend on a PostgreSQL database. Its methods are safe for concurrent
// use, also by several processes on the same database; Close must be called once, after every
// other call has returned.
type Store struct {
	pool *pgxpool.Pool
}

// Open connects to the database named by dsn, creates the schema or migrates an older one,
// and returns a Store on a connection pool. ctx bounds the opening only. Several processes may
// open one database at once: one migrates, the others wait for it (see migrate).
//
// Open fails on a database whose schema a newer fibergate wrote (a version it does not know).
func Open(ctx context.Context, dsn string) (*Store, error) {
	s, err := connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres store %s: %w", Redact(dsn), err)
	}
	if err := migrate(ctx, s.pool); err != nil {
		s.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", Redact(dsn), err)
	}
	return s, nil
}

// OpenExisting is Open for a reader of a store a server keeps (cmd/reconcile): it changes
// nothing in the database, and fails unless the database holds fibergate's schema, at this
// program's version.
func OpenExisting(ctx context.Context, dsn string) (*Store, error) {
	s, err := connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres store %s: %w", Redact(dsn), err)
	}
	if err := checkSchema(ctx, s.pool); err != nil {
		s.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", Redact(dsn), err)
	}
	return s, nil
}

// connect makes the pool and checks that a connection can be had.
func connect(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx masks the password in what it quotes of dsn.
		return nil, err
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Ping reports whether the database answers: it runs an empty statement on a pooled
// connection. When that fails and ctx has not ended, the pool's connections are closed (those
// in use once they are returned: a server that cut one, by pg_terminate_backend or a restart,
// most likely cut them all) and Ping tries once more on a new one. So an error means that no
// connection could be had or used (the server unreachable or refusing connections, ctx
// ended), not that an old one was cut.
func (s *Store) Ping(ctx context.Context) error {
	err := s.pool.Ping(ctx)
	if err != nil && ctx.Err() == nil {
		s.pool.Reset()
		err = s.pool.Ping(ctx)
	}
	if err != nil {
		return fmt.Errorf("ping postgres store: %w", err)
	}
	return nil
}

// Close closes every connection of the pool. It always returns nil.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// passwordMask replaces a password in what Redact returns.
const passwordMask = "xxxxx"

// passwordParam matches a password in a keyword/value connection string (password=secret,
// password = 'a secret'), and in a URL's query (password=secret&...).
var passwordParam = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:\\.|[^'\\])*'|[^\s&]*)`)

// Redact returns dsn with its password masked, wherever dsn puts it: in a URL's user
// information or query, or in a keyword/value string. It is what errors and logs may show of a
// DSN.
func Redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		dsn = u.Redacted()
	} else if err != nil && (hasScheme(dsn, "postgres") || hasScheme(dsn, "postgresql")) {
		// A URL this package cannot read: the password may be anywhere in it.
		return "postgres://" + passwordMask
	}
	return passwordParam.ReplaceAllString(dsn, "${1}"+passwordMask)
}

// hasScheme reports whether dsn starts with scheme://, in any case.
func hasScheme(dsn, scheme string) bool {
	prefix := scheme + "://"
	return len(dsn) >= len(prefix) && strings.EqualFold(dsn[:len(prefix)], prefix)
}
