package service

import (
	"context"
	"time"
)

// PurgeTurns lets the replicas sharing a store take turns at a periodic purge, so that it
// runs once per period in the cluster: TakePurgeTurn reports whether the caller is to run the
// purge called name now, true for at most one caller in any every by the store's clock.
// storagetest.PurgeTurnBackend states the full contract. It must be safe for concurrent use.
type PurgeTurns interface {
	TakePurgeTurn(ctx context.Context, name string, every time.Duration) (bool, error)
}

// purgeTurnName names the purge of expired request ids among the cluster's purges.
const purgeTurnName = "expired-requests"

// takePurgeTurn reports whether Run purges now: always without turns (one process on the
// store), else when it takes the cluster's turn. The turn is asked for nine tenths of the
// period, so that this replica's own next purge, a period later by its clock, finds the turn
// free however the store's clock drifts from it, while another replica's within the period
// finds it taken. A failure skips the purge.
func (s *Service) takePurgeTurn(ctx context.Context) bool {
	if s.purges == nil {
		return true
	}
	const every = requestPurgeInterval - requestPurgeInterval/10
	mine, err := s.purges.TakePurgeTurn(ctx, purgeTurnName, every)
	if err != nil && ctx.Err() == nil {
		s.log.ErrorContext(ctx, "take the turn to purge expired request ids", "err", err)
	}
	return err == nil && mine
}
