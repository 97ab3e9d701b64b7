package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrLocked is returned, wrapped, by OpenLocked when another process has the store open
// with OpenLocked.
var ErrLocked = errors.New("the store is in use by another fibergate process; SQLite serves one process: to run several replicas, use a PostgreSQL store (-store postgres://...)")

// lockSuffix names the lock file beside the database.
const lockSuffix = ".lock"

// OpenLocked is Open for the one process that serves the store: it first takes an exclusive
// lock on the file PATH.lock beside the database (created 0600), held until Close, or until
// the process ends however it ends. If another process holds it, OpenLocked fails at once
// with ErrLocked. Processes that only read the store while the server runs (cmd/reconcile)
// use Open, which takes no lock.
//
// The lock is an advisory lock of the operating system (flock), on the local file system; it
// does not work across machines sharing a network file system, where SQLite itself is unsafe.
func OpenLocked(ctx context.Context, path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	lock, err := lockFile(abs + lockSuffix)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	s, err := open(ctx, abs)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, errors.Join(err, lock.Close()))
	}
	s.lock = lock
	return s, nil
}

// lockFile opens the file at path, creating it with fileMode, and takes an exclusive lock on
// it without waiting. The lock lasts until the file is closed. ErrLocked if another open
// file holds it.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := restrict(f); err != nil {
		return nil, errors.Join(fmt.Errorf("lock %s: %w", path, err), f.Close())
	}
	if err := tryLock(f); err != nil {
		return nil, errors.Join(fmt.Errorf("lock %s: %w", path, err), f.Close())
	}
	return f, nil
}
