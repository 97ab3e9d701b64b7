package service

import (
	"context"
	"fmt"
	"time"

	"github.com/fibergate/fibergate/internal/apierr"
	"github.com/fibergate/fibergate/internal/storage"
)

// DefaultLeaseTTL is how long a replica sending an idempotent start is taken for alive
// after its last renewal, unless Config.LeaseTTL says otherwise.
const DefaultLeaseTTL = 15 * time.Second

// requestPollInterval is how often a duplicate reads the record of the request it waits for.
// A read is one indexed row: at Fiber's start rates (a few a second at most) the reads of
// the waiting duplicates are nothing to the store.
const requestPollInterval = 100 * time.Millisecond

// heartbeat renews this replica's lease on key's pending record every third of the lease,
// from now until the returned stop is called, so that duplicates keep waiting for the start
// however long it takes; stop returns once the renewals have stopped. A renewal that fails
// is logged and tried again at the next beat: the lease outlives two missed beats. A record
// that is no longer this replica's pending one (a duplicate found the lease run out and
// gave the request up) is renewed no more.
func (i *idempotency) heartbeat(ctx context.Context, key string) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(i.lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			renewed, err := i.store.RenewRequest(ctx, key, i.replica, i.lease)
			switch {
			case err != nil && ctx.Err() == nil:
				i.log.WarnContext(ctx, "renew the lease on a request id", "request_key", key, "replica", i.replica, "err", err)
			case err == nil && !renewed:
				i.log.WarnContext(ctx, "lost the lease on a request id while sending it: duplicates answer that its outcome is unknown",
					"request_key", key, "replica", i.replica)
				return
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// await waits for the request under key, which another replica (or an earlier run of this
// one) is sending, and returns its record once it is finished: done, or unknown, which the
// store makes it once the sender's lease has run out. It reads the record at once and then
// every requestPollInterval. storage.ErrNotFound: the record went away (the sender released
// it, its start having surely failed, or it expired), and the key may be claimed again. A
// read that fails on a store found down fails with health.ErrStoreUnavailable.
//
// When ctx would end by the next read, it returns apierr.ErrRequestInProgress at once, so
// that the caller hears it up to a poll interval before its deadline; when ctx ends,
// ctx.Err().
func (i *idempotency) await(ctx context.Context, key string) (storage.Request, error) {
	tick := time.NewTicker(requestPollInterval)
	defer tick.Stop()
	for {
		r, err := i.store.ResolveRequest(ctx, key, i.now())
		switch {
		case err != nil && ctx.Err() != nil:
			return storage.Request{}, ctx.Err()
		case err != nil:
			if i.health != nil {
				err = i.health.Failed(ctx, err) // a store found down: retry
			}
			return storage.Request{}, fmt.Errorf("read request id: %w", err)
		case r.State != storage.RequestPending:
			return r, nil
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= requestPollInterval {
			return storage.Request{}, apierr.ErrRequestInProgress
		}
		select {
		case <-ctx.Done():
			return storage.Request{}, ctx.Err()
		case <-tick.C:
		}
	}
}
