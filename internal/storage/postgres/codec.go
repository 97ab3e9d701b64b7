package postgres

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fibergate/fibergate/internal/storage"
)

// zeroNanos stands for the zero time.Time: the least bigint, so that it orders before every
// other time, as the zero time does.
const zeroNanos int64 = math.MinInt64

// The times nanos encodes: those whose unix nanoseconds fit in an int64, but for zeroNanos.
var (
	minTime = time.Unix(0, math.MinInt64+1)
	maxTime = time.Unix(0, math.MaxInt64)
)

// nanos encodes t as unix nanoseconds, the zero time as zeroNanos. It fails for the times that
// have no such encoding: before 1678 or after 2262.
func nanos(t time.Time) (int64, error) {
	if t.IsZero() {
		return zeroNanos, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return 0, fmt.Errorf("time %v out of range", t)
	}
	return t.UnixNano(), nil
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
	if n == zeroNanos {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// notFound turns pgx.ErrNoRows into storage.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.ErrNotFound
	}
	return err
}

// uniqueViolation is PostgreSQL's SQLSTATE for a duplicate key.
const uniqueViolation = "23505"

// isUniqueViolation reports whether err is PostgreSQL refusing a duplicate key.
func isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == uniqueViolation
}

// nonNil returns b, or an empty slice for nil: pgx sends nil as NULL, and a result's data is
// never NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
