package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fibergate/fibergate/internal/storage"
)

// requestColumns are the requests columns in the order scanRequest reads them.
const requestColumns = `key, payload_hash, state, response, create_time, expire_time, owner, lease_expiry`

// ClaimRequest records r as a new request in state storage.RequestPending, without a
// response (r.State and r.Response are ignored), owned by r.Owner with a lease that runs out
// lease from now by the database's clock (r.LeaseExpiry is ignored), unless a record of r.Key
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
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Inserts, or replaces an expired record. Of concurrent claims one inserts; the others
		// wait for it to commit and then find a live record. Either way the key's row is
		// locked until the transaction ends, so the record read below is the one that
		// refused the claim.
		tag, err := tx.Exec(ctx, `INSERT INTO requests AS old (`+requestColumns+`)
			VALUES ($1, $2, $3, NULL, $4, $5, $6, `+dbNow+` + $7)
			ON CONFLICT (key) DO UPDATE SET payload_hash = excluded.payload_hash,
				state = excluded.state, response = NULL, create_time = excluded.create_time,
				expire_time = excluded.expire_time, owner = excluded.owner,
				lease_expiry = excluded.lease_expiry
			WHERE old.expire_time <= excluded.create_time`,
			r.Key, r.PayloadHash, int(storage.RequestPending), ns[0], ns[1], r.Owner, lease.Nanoseconds())
		if err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		if tag.RowsAffected() == 1 {
			claimed = true
			return nil
		}
		rows, _ := tx.Query(ctx, `SELECT `+requestColumns+` FROM requests WHERE key = $1`, r.Key)
		existing, err = pgx.CollectExactlyOneRow(rows, scanRequest)
		return err
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
	rows, _ := s.pool.Query(ctx, `SELECT `+requestColumns+` FROM requests
		WHERE key = $1 AND expire_time > $2`, key, n)
	r, err := pgx.CollectExactlyOneRow(rows, scanRequest)
	if err != nil {
		return storage.Request{}, fmt.Errorf("get request %s: %w", key, notFound(err))
	}
	return r, nil
}

// RenewRequest extends owner's lease on key's pending record to lease from now by the
// database's clock.
func (s *Store) RenewRequest(ctx context.Context, key, owner string, lease time.Duration) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE requests SET lease_expiry = `+dbNow+` + $1
		WHERE key = $2 AND owner = $3 AND state = $4`, lease.Nanoseconds(), key, owner, int(storage.RequestPending))
	if err != nil {
		return false, fmt.Errorf("renew request %s: %w", key, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ResolveRequest returns the record of key if it lives at now, after giving it up (state
// storage.RequestUnknown) if it is pending and its lease has run out by the database's clock.
// The check and the change are one UPDATE: a concurrent RenewRequest holds the row's lock,
// and the UPDATE then checks the lease it left.
func (s *Store) ResolveRequest(ctx context.Context, key string, now time.Time) (storage.Request, error) {
	n, err := nanos(now)
	if err != nil {
		return storage.Request{}, fmt.Errorf("resolve request %s: %w", key, err)
	}
	_, err = s.pool.Exec(ctx, `UPDATE requests SET state = $1
		WHERE key = $2 AND state = $3 AND lease_expiry <= `+dbNow+` AND expire_time > $4`,
		int(storage.RequestUnknown), key, int(storage.RequestPending), n)
	if err != nil {
		return storage.Request{}, fmt.Errorf("resolve request %s: %w", key, err)
	}
	return s.GetRequest(ctx, key, now)
}

// FinishRequest sets the state and response of key's record, expired or not.
// storage.ErrNotFound if there is none.
func (s *Store) FinishRequest(ctx context.Context, key string, state storage.RequestState, response []byte) error {
	if err := s.execOne(ctx, `UPDATE requests SET state = $1, response = $2 WHERE key = $3`, int(state), response, key); err != nil {
		return fmt.Errorf("finish request %s: %w", key, err)
	}
	return nil
}

// ReleaseRequest deletes key's record, if there is one.
func (s *Store) ReleaseRequest(ctx context.Context, key string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM requests WHERE key = $1`, key); err != nil {
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
	tag, err := s.pool.Exec(ctx, `DELETE FROM requests WHERE expire_time < $1`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("purge requests: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// scanRequest reads a row of requestColumns.
func scanRequest(row pgx.CollectableRow) (storage.Request, error) {
	var (
		r                     storage.Request
		state                 int
		create, expire, lease int64
	)
	if err := row.Scan(&r.Key, &r.PayloadHash, &state, &r.Response, &create, &expire, &r.Owner, &lease); err != nil {
		return storage.Request{}, err
	}
	r.State = storage.RequestState(state)
	r.CreateTime, r.ExpireTime, r.LeaseExpiry = fromNanos(create), fromNanos(expire), fromNanos(lease)
	return r, nil
}
