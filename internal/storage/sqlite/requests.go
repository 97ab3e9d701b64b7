package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fibergate/fibergate/internal/storage"
)

// requestColumns are the requests columns in the order scanRequest reads them.
const requestColumns = `key, payload_hash, state, response, create_time, expire_time, owner, lease_expiry`

// ClaimRequest records r as a new request in state storage.RequestPending, without a
// response (r.State and r.Response are ignored), owned by r.Owner with a lease that runs out
// lease from now by this process's clock (r.LeaseExpiry is ignored), unless a record of r.Key
// lives at r.CreateTime, i.e. expires after it: then it returns that record and claimed
// false, and writes nothing. existing is the zero Request when claimed is true. It fails if
// r.ExpireTime is not after r.CreateTime: such a record would be expired as soon as written,
// and a second claim of the key would succeed too.
func (s *Store) ClaimRequest(ctx context.Context, r storage.Request, lease time.Duration) (storage.Request, bool, error) {
	if !r.ExpireTime.After(r.CreateTime) {
		return storage.Request{}, false, fmt.Errorf("claim request %s: expire time %v is not after create time %v", r.Key, r.ExpireTime, r.CreateTime)
	}
	ns, err := nanosAll(r.CreateTime, r.ExpireTime)
	if err != nil {
		return storage.Request{}, false, fmt.Errorf("claim request %s: %w", r.Key, err)
	}
	var (
		existing storage.Request
		claimed  bool
	)
	err = inTx(ctx, s.write, func(tx *sql.Tx) error {
		// The writer's BEGIN IMMEDIATE holds the write lock from here: no other claim can
		// slip in between this check and the insert.
		row := tx.QueryRowContext(ctx, `SELECT `+requestColumns+` FROM requests
			WHERE key = ? AND expire_time > ?`, r.Key, ns[0])
		switch req, err := scanRequest(row); {
		case err == nil:
			existing = req
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		// Replaces an expired record of the key, if there is one.
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO requests (`+requestColumns+`)
			VALUES (?, ?, ?, NULL, ?, ?, ?, ?)`, r.Key, r.PayloadHash, storage.RequestPending, ns[0], ns[1],
			r.Owner, leaseExpiry(lease))
		if err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		claimed = true
		return nil
	})
	if err != nil {
		return storage.Request{}, false, fmt.Errorf("claim request %s: %w", r.Key, err)
	}
	return existing, claimed, nil
}

// GetRequest returns the record of key if it lives at now, i.e. expires after now, as
// ClaimRequest decides. storage.ErrNotFound if there is none or it has expired.
func (s *Store) GetRequest(ctx context.Context, key string, now time.Time) (storage.Request, error) {
	n, err := nanos(now)
	if err != nil {
		return storage.Request{}, fmt.Errorf("get request %s: %w", key, err)
	}
	row := s.read.QueryRowContext(ctx, `SELECT `+requestColumns+` FROM requests
		WHERE key = ? AND expire_time > ?`, key, n)
	r, err := scanRequest(row)
	if err != nil {
		return storage.Request{}, fmt.Errorf("get request %s: %w", key, notFound(err))
	}
	return r, nil
}

// RenewRequest extends owner's lease on key's pending record to lease from now.
func (s *Store) RenewRequest(ctx context.Context, key, owner string, lease time.Duration) (bool, error) {
	res, err := s.write.ExecContext(ctx, `UPDATE requests SET lease_expiry = ?
		WHERE key = ? AND owner = ? AND state = ?`, leaseExpiry(lease), key, owner, storage.RequestPending)
	if err != nil {
		return false, fmt.Errorf("renew request %s: %w", key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("renew request %s: %w", key, err)
	}
	return n == 1, nil
}

// ResolveRequest returns the record of key if it lives at now, after giving it up (state
// storage.RequestUnknown) if it is pending and its lease has run out by this process's
// clock. The check and the change are one UPDATE, which the writer serializes with
// RenewRequest.
func (s *Store) ResolveRequest(ctx context.Context, key string, now time.Time) (storage.Request, error) {
	n, err := nanos(now)
	if err != nil {
		return storage.Request{}, fmt.Errorf("resolve request %s: %w", key, err)
	}
	_, err = s.write.ExecContext(ctx, `UPDATE requests SET state = ?
		WHERE key = ? AND state = ? AND lease_expiry <= ? AND expire_time > ?`,
		storage.RequestUnknown, key, storage.RequestPending, time.Now().UnixNano(), n)
	if err != nil {
		return storage.Request{}, fmt.Errorf("resolve request %s: %w", key, err)
	}
	return s.GetRequest(ctx, key, now)
}

// leaseExpiry is when a lease granted now for d runs out, in unix nanoseconds.
func leaseExpiry(d time.Duration) int64 { return time.Now().Add(d).UnixNano() }

// FinishRequest sets the state and response of key's record, expired or not.
// storage.ErrNotFound if there is none.
func (s *Store) FinishRequest(ctx context.Context, key string, state storage.RequestState, response []byte) error {
	if err := s.execOne(ctx, `UPDATE requests SET state = ?, response = ? WHERE key = ?`, state, response, key); err != nil {
		return fmt.Errorf("finish request %s: %w", key, err)
	}
	return nil
}

// ReleaseRequest deletes key's record, if there is one.
func (s *Store) ReleaseRequest(ctx context.Context, key string) error {
	if _, err := s.write.ExecContext(ctx, `DELETE FROM requests WHERE key = ?`, key); err != nil {
		return fmt.Errorf("release request %s: %w", key, err)
	}
	return nil
}

// PurgeRequests deletes the records whose ExpireTime is before before.
func (s *Store) PurgeRequests(ctx context.Context, before time.Time) (int, error) {
	cutoff, err := nanos(before)
	if err != nil {
		return 0, fmt.Errorf("purge requests: %w", err)
	}
	res, err := s.write.ExecContext(ctx, `DELETE FROM requests WHERE expire_time < ?`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("purge requests: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge requests: %w", err)
	}
	return int(n), nil
}

// scanRequest reads a row of requestColumns.
func scanRequest(row interface{ Scan(dest ...any) error }) (storage.Request, error) {
	var (
		r                     storage.Request
		create, expire, lease int64
	)
	if err := row.Scan(&r.Key, &r.PayloadHash, &r.State, &r.Response, &create, &expire, &r.Owner, &lease); err != nil {
		return storage.Request{}, err
	}
	r.CreateTime, r.ExpireTime, r.LeaseExpiry = fromNanos(create), fromNanos(expire), fromNanos(lease)
	return r, nil
}
