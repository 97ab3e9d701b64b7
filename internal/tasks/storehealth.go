package tasks

import "context"

// StoreHealth tells whether the store can be reached. *health.Monitor implements it.
type StoreHealth interface {
	// Up reports whether the store is up, and returns a channel closed when that changes.
	Up() (up bool, changed <-chan struct{})
	// Failed is told that a store call failed with err. It returns err, wrapped with
	// health.ErrStoreUnavailable if the store is found down.
	Failed(ctx context.Context, err error) error
}

// storeState is StoreHealth.Up; without a StoreHealth the store is always up.
func (e *Engine) storeState() (up bool, changed <-chan struct{}) {
	if e.health == nil {
		return true, nil
	}
	return e.health.Up()
}

// storeFailed is StoreHealth.Failed: err of a store call, marked health.ErrStoreUnavailable
// if the store is down. nil stays nil.
func (e *Engine) storeFailed(ctx context.Context, err error) error {
	if err == nil || e.health == nil {
		return err
	}
	return e.health.Failed(ctx, err)
}

// awaitStore waits until the store is up (true) or ctx ends (false).
func (e *Engine) awaitStore(ctx context.Context) bool {
	for {
		up, changed := e.storeState()
		if up {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-changed:
		}
	}
}
