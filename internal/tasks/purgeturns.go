package tasks

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

// purgeTurnName names the engine's purge of finished tasks among the cluster's purges.
const purgeTurnName = "finished-tasks"

// takePurgeTurn reports whether the engine runs its purge due now, every being its period:
// always without turns (one process on the store), else when it takes the cluster's turn.
// The turn is asked for nine tenths of the period, so that this replica's own next purge,
// a period later by its clock, finds the turn free however the store's clock drifts from
// it, while another replica's within the period finds it taken. A failure skips the purge.
func (e *Engine) takePurgeTurn(ctx context.Context, every time.Duration) bool {
	if e.purgeTurns == nil {
		return true
	}
	mine, err := e.purgeTurns.TakePurgeTurn(ctx, purgeTurnName, every-every/10)
	if err != nil && ctx.Err() == nil {
		e.log.Error("take the turn to purge finished tasks", "err", err)
	}
	return err == nil && mine
}
