// Package sqlite is a storage backend (storagetest.Backend) kept in a local SQLite file, for
// a single fibergate process. It uses the pure-Go driver modernc.org/sqlite, so it needs no cgo.
//
// # One process
//
// The server opens the store with OpenLocked, which holds a lock on a file beside the
// database: a second server started on the same file is refused (ErrLocked), since both
// would poll the same tasks and spend the same Fiber budget twice; several replicas need a
// store they can share (storage/postgres). Readers such as cmd/reconcile use Open, which
// takes no lock. For the same reason the store leases no tasks (it is no
// storagetest.LeaseBackend) and ignores Update.Fence: the one engine runs one poller per
// task itself.
//
// # Concurrency
//
// The database runs in WAL mode. Reads go through a pool of read-only connections and never
// block, or are blocked by, the writer; each read is a single statement, so it sees one
// committed state and never half of an AppendResults. Writes go through one dedicated
// connection, each in a BEGIN IMMEDIATE transaction: inside the process they queue for that
// connection (giving up when the caller's context ends); against another process holding the
// write lock they wait up to the busy timeout.
//
// # Durability
//
// synchronous=NORMAL: in WAL mode a commit is written to the -wal file but not fsynced; the
// WAL is fsynced when it is checkpointed into the database. The database stays consistent
// through any crash. A commit survives the process being killed (kill -9, OOM kill, panic),
// since its write has reached the operating system; only an operating system crash or power
// loss can lose the last transactions, each as a whole. A task's results and its cursor are
// written in one transaction, so they roll back together and polling resumes from the older
// cursor, fetching those results again: none lost, none stored twice.
//
// # Where the storage contract leaves room
//
// ReadResults on an unknown task returns no results rather than storage.ErrNotFound. Times
// are kept as unix nanoseconds and come back in UTC: times before 1678 or after 2262, and
// the Unix epoch itself (which stands for the zero time), are refused. A terminal task
// without a FinishTime is purged by any PurgeFinished cutoff after 1970. ListTasks refuses a
// filter without an owner or a positive page size, CreateTask a task with results.
// ClaimRequest refuses a request whose ExpireTime is not after its CreateTime, and a claimed
// record starts without a response whatever the Request says. Request leases are timed by
// the clock of the process that calls the store (one process uses the file); a lease of zero
// has run out as soon as it is granted. FinishRequest still finishes a
// record that has expired but is not purged yet.
//
// # Files
//
// The database file and its -wal and -shm side files hold task results (personal contact
// details): Open creates them with mode 0600 and brings existing ones back to 0600 whatever
// the umask.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	// The driver registers itself as "sqlite" with database/sql.
	_ "modernc.org/sqlite"
)

// busyTimeoutMillis is how long a connection waits for a lock another process holds.
const busyTimeoutMillis = 5000

// readConns is the size of the read pool. WAL readers run in parallel.
const readConns = 4

// Store is the storage backend on a SQLite file. Its methods are safe for concurrent use; Close
// must be called once, after every other call has returned.
type Store struct {
	write *sql.DB  // a single connection; every write, in BEGIN IMMEDIATE transactions
	read  *sql.DB  // read-only connections; single-statement reads
	lock  *os.File // the locked PATH.lock of OpenLocked; nil after Open
}

// Open opens the store in the file at path, creating the file (mode 0600) and the schema
// if needed, and migrating an older schema. ctx bounds the opening only.
//
// Open fails on a file written by a newer fibergate (a schema version it does not know),
// and on a file system where SQLite cannot use WAL mode.
func Open(ctx context.Context, path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	s, err := open(ctx, abs)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	return s, nil
}

func open(ctx context.Context, path string) (_ *Store, err error) {
	if err := prepareFiles(path); err != nil {
		return nil, err
	}
	s := &Store{}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Close())
		}
	}()

	s.write, err = sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, err
	}
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	if err := checkWAL(ctx, s.write); err != nil {
		return nil, err
	}
	if err := migrate(ctx, s.write); err != nil {
		return nil, err
	}

	s.read, err = sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, err
	}
	s.read.SetMaxOpenConns(readConns)
	s.read.SetMaxIdleConns(readConns)
	if err := s.read.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("connect reader: %w", err)
	}

	// SQLite gives new side files the main file's mode; this also repairs old ones.
	if err := restrictFiles(path); err != nil {
		return nil, err
	}
	return s, nil
}

// dsn is the driver's name for the database at the absolute path, with the pragmas every
// pooled connection gets.
func dsn(path string, readOnly bool) string {
	// In a file: URI SQLite percent-decodes the path, so escape what it would misread.
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(path))
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)") // persistent: stored in the file
		q.Set("_txlock", "immediate")
	}
	return "file:" + escaped + "?" + q.Encode()
}

// checkWAL connects the writer and verifies that the journal_mode pragma took.
func checkWAL(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("connect writer: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, want wal", mode)
	}
	return nil
}

// Ping reports whether the database file can be read: it reads the schema through the
// read pool, so it waits for no write and needs no lock that a reader does not. An error
// (the file unreadable, the disk failing, ctx ended) means reads fail; a write may still
// fail where Ping succeeds (a full disk, another process holding the write lock).
func (s *Store) Ping(ctx context.Context) error {
	var n int
	if err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		return fmt.Errorf("ping sqlite store: %w", err)
	}
	return nil
}

// Close closes every connection; unless another process has the file open, SQLite then
// checkpoints the WAL into the main file and removes the side files. Then it releases the
// lock of OpenLocked.
func (s *Store) Close() error {
	var errs []error
	if s.read != nil {
		if err := s.read.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close readers: %w", err))
		}
	}
	if s.write != nil {
		if err := s.write.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close writer: %w", err))
		}
	}
	if s.lock != nil {
		if err := s.lock.Close(); err != nil {
			errs = append(errs, fmt.Errorf("release lock: %w", err))
		}
	}
	return errors.Join(errs...)
}
