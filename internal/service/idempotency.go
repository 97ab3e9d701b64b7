package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/apierr"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/tasks"
)

// DefaultIdempotencyTTL is how long a request id is remembered.
const DefaultIdempotencyTTL = 24 * time.Hour

// RequestStore keeps the records of idempotent StartBatch requests. Every storage backend
// implements it (storagetest.Backend states the full contract). Its methods must be safe
// for concurrent use, also by several processes (replicas) sharing the store.
//
// What idempotency relies on: ClaimRequest writes a new pending record for r.Key, owned by
// r.Owner with a lease that runs out lease from now by the store's clock, unless a record of
// the key lives at r.CreateTime (expires after it), which it returns instead (claimed
// false); of concurrent claims of one key exactly one is claimed, and a claim replaces an
// expired record entirely. RenewRequest extends the lease of a pending record that owner
// owns, and says whether it did. ResolveRequest returns the live record of a key
// (storage.ErrNotFound if there is none), after turning a pending record whose lease has run
// out into a RequestUnknown one, atomically with respect to RenewRequest. FinishRequest sets
// a record's state and response, storage.ErrNotFound if it is gone. ReleaseRequest deletes a
// record (no error if it is gone), so the key can be claimed again. PurgeRequests deletes the
// records that expired before a time, which nothing reads again, and says how many.
type RequestStore interface {
	ClaimRequest(ctx context.Context, r storage.Request, lease time.Duration) (existing storage.Request, claimed bool, err error)
	RenewRequest(ctx context.Context, key, owner string, lease time.Duration) (bool, error)
	ResolveRequest(ctx context.Context, key string, now time.Time) (storage.Request, error)
	FinishRequest(ctx context.Context, key string, state storage.RequestState, response []byte) error
	ReleaseRequest(ctx context.Context, key string) error
	PurgeRequests(ctx context.Context, before time.Time) (int, error)
}

// requestPurgeInterval is how often Service.Run deletes expired request ids. They take room
// only: an expired record is ignored, and replaced by the next claim of its key.
const requestPurgeInterval = time.Hour

// idempotency makes StartBatch safe to retry: the first request with a (principal, request id)
// runs; any later one with the same payload gets the stored answer, concurrently or after a
// restart, on this replica or another sharing the store, and never reaches Fiber. Safe for
// concurrent use.
//
// The replica sending a request holds a lease on its record, renewed while the start runs
// (see heartbeat). A duplicate that finds the request pending waits for it (see await): for
// the answer, or, once the sender's lease has run out (it died mid-request), the unknown
// outcome.
type idempotency struct {
	store   RequestStore
	health  StoreHealth   // nil: always up
	ttl     time.Duration // of a record
	replica string        // owner of the records this process claims
	lease   time.Duration // of a pending record, from its last renewal
	now     func() time.Time
	log     *slog.Logger

	mu       sync.Mutex // guards inflight
	inflight map[string]chan struct{}
}

func newIdempotency(store RequestStore, ttl time.Duration, health StoreHealth, replica string, lease time.Duration, log *slog.Logger) *idempotency {
	if ttl <= 0 {
		ttl = DefaultIdempotencyTTL
	}
	if replica == "" {
		replica = uuid.NewString()
	}
	if lease <= 0 {
		lease = DefaultLeaseTTL
	}
	return &idempotency{store: store, health: health, ttl: ttl, replica: replica, lease: lease, now: time.Now, log: log, inflight: map[string]chan struct{}{}}
}

// purge deletes the records that have expired.
func (i *idempotency) purge(ctx context.Context) {
	n, err := i.store.PurgeRequests(ctx, i.now())
	switch {
	case err != nil && ctx.Err() == nil:
		i.log.ErrorContext(ctx, "purge expired request ids", "err", err)
	case n > 0:
		i.log.DebugContext(ctx, "purged expired request ids", "count", n)
	}
}

// requestID returns the request's idempotency key and where it came from: request_id, else
// the Idempotency-Key header (REST) or metadata (gRPC). "" means the request is not
// idempotent.
func requestID(ctx context.Context, req *cdv1.StartBatchRequest) (id, field string, err error) {
	if id := req.GetRequestId(); id != "" {
		return id, apierr.FieldRequestID, nil // validated as a UUID by the contract
	}
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get(apierr.IdempotencyKeyHeader)
	switch {
	case len(vals) == 0:
		return "", "", nil
	case len(vals) > 1:
		return "", "", apierr.ErrBadIdempotencyKey
	}
	u, err := uuid.Parse(vals[0])
	if err != nil || len(vals[0]) != 36 {
		return "", "", apierr.ErrBadIdempotencyKey
	}
	return u.String(), apierr.IdempotencyKeyHeader, nil
}

// payloadHash identifies what a request asks for: the request without its id, and with the
// Fiber key replaced by its id (a retry must use the same key). Hashes are stored: the same
// request must always give the same hash.
func payloadHash(req *cdv1.StartBatchRequest, apiKey string) (string, error) {
	// A shallow copy: it shares req's people rather than copying 2000 of them, and is only read.
	src := req.ProtoReflect()
	c := &cdv1.StartBatchRequest{}
	cr := c.ProtoReflect()
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		cr.Set(fd, v)
		return true
	})
	cr.SetUnknown(src.GetUnknown())
	c.RequestId, c.ApiKey = "", fiber.KeyID(apiKey)
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("hash request: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// do runs start once per key across the replicas sharing the store. Later calls with the
// same key and hash get the stored answer, or the unknown outcome (apierr.ErrEarlierOutcomeUnknown);
// while the first runs, they wait for it, in this process or another, and give up with
// apierr.ErrRequestInProgress just before ctx's deadline. Another hash gets
// apierr.ErrIdempotencyKeyReused at once.
func (i *idempotency) do(ctx context.Context, key, hash string, start func() (*cdv1.StartBatchResponse, error)) (*cdv1.StartBatchResponse, error) {
	for {
		// One request per key at a time in this process; duplicates wait for it.
		i.mu.Lock()
		if ch, busy := i.inflight[key]; busy {
			i.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		i.inflight[key] = done
		i.mu.Unlock()
		resp, err, retry := i.attempt(ctx, key, hash, start)
		i.mu.Lock()
		delete(i.inflight, key)
		close(done)
		i.mu.Unlock()
		if !retry {
			return resp, err
		}
	}
}

// attempt claims key and runs start, or answers from the existing record. retry: the record
// went away while this call waited for it; the key may be claimed again.
func (i *idempotency) attempt(ctx context.Context, key, hash string, start func() (*cdv1.StartBatchResponse, error)) (_ *cdv1.StartBatchResponse, _ error, retry bool) {
	now := i.now()
	existing, claimed, err := i.store.ClaimRequest(ctx, storage.Request{
		Key: key, PayloadHash: hash, State: storage.RequestPending, CreateTime: now, ExpireTime: now.Add(i.ttl), Owner: i.replica,
	}, i.lease)
	if err != nil {
		if i.health != nil {
			err = i.health.Failed(ctx, err) // a store found down: nothing was sent, retry
		}
		return nil, fmt.Errorf("claim request id: %w", err), false
	}
	if !claimed {
		if existing.PayloadHash != hash {
			return nil, apierr.ErrIdempotencyKeyReused, false
		}
		if existing.State == storage.RequestPending {
			existing, err = i.await(ctx, key)
			if errors.Is(err, storage.ErrNotFound) {
				return nil, nil, true
			}
			if err != nil {
				return nil, err, false
			}
		}
		resp, err := replay(existing)
		return resp, err, false
	}
	stop := i.heartbeat(ctx, key)
	resp, err := start()
	stop()
	// The outcome is recorded even if the caller went away meanwhile.
	rctx := context.WithoutCancel(ctx)
	snr, notRecorded := errors.AsType[*apierr.StartNotRecordedError](err)
	switch {
	case err == nil:
		i.finish(rctx, key, resp)
	case notRecorded && errors.Is(err, tasks.ErrNotRecorded):
		// Started, and followed once the engine has stored it: a retry gets the answer.
		i.finish(rctx, key, snr.Response)
	case notRecorded, fiber.KindOf(err) == fiber.KindOutcomeUnknown:
		// An id conflict is never answered with the task id, which names another task.
		if ferr := i.store.FinishRequest(rctx, key, storage.RequestUnknown, nil); ferr != nil {
			i.log.ErrorContext(ctx, "record ambiguous start", "err", ferr)
		}
	default: // surely without effect: the id may be used again
		if rerr := i.store.ReleaseRequest(rctx, key); rerr != nil {
			i.log.ErrorContext(ctx, "release request id", "err", rerr)
		}
	}
	return resp, err, false
}

// finish records resp as the answer to key's request.
func (i *idempotency) finish(ctx context.Context, key string, resp *cdv1.StartBatchResponse) {
	raw, err := proto.Marshal(resp)
	if err == nil {
		err = i.store.FinishRequest(ctx, key, storage.RequestDone, raw)
	}
	if err != nil {
		i.log.ErrorContext(ctx, "record idempotent start", "err", err)
	}
}

// replay answers a duplicate from the finished record r of the first request, which has the
// duplicate's payload.
func replay(r storage.Request) (*cdv1.StartBatchResponse, error) {
	if r.State != storage.RequestDone {
		return nil, apierr.ErrEarlierOutcomeUnknown
	}
	resp := &cdv1.StartBatchResponse{}
	if err := proto.Unmarshal(r.Response, resp); err != nil {
		return nil, fmt.Errorf("decode stored response: %w", err)
	}
	return resp, nil
}
