package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/fibergate/fibergate/internal/storage"
)

// nanos encodes t as unix nanoseconds, the zero time as 0. It fails for the times that have
// no such encoding: before 1678 or after 2262, and the Unix epoch itself (which would read
// back as the zero time).
func nanos(t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, nil
	}
	if t.Before(time.Unix(0, math.MinInt64)) || t.After(time.Unix(0, math.MaxInt64)) {
		return 0, fmt.Errorf("time %v out of range", t)
	}
	n := t.UnixNano()
	if n == 0 {
		return 0, fmt.Errorf("time %v is the Unix epoch, which stands for no time", t)
	}
	return n, nil
}

// nanosAll encodes the times, stopping at the first error.
func nanosAll(ts ...time.Time) ([]int64, error) {
	ns := make([]int64, len(ts))
	for i, t := range ts {
		n, err := nanos(t)
		if err != nil {
			return nil, err
		}
		ns[i] = n
	}
	return ns, nil
}

// fromNanos decodes what nanos encoded, in UTC.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// notFound turns sql.ErrNoRows into storage.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return storage.ErrNotFound
	}
	return err
}

// isUniqueViolation reports whether err is SQLite refusing a duplicate key.
func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return true
	}
	return false
}
