package service

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// purgeRecorder is a RequestStore that records the cutoffs PurgeRequests is given. Its other
// methods are not called.
type purgeRecorder struct {
	RequestStore
	mu      sync.Mutex // guards cutoffs
	cutoffs []time.Time
}

func (r *purgeRecorder) PurgeRequests(_ context.Context, before time.Time) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cutoffs = append(r.cutoffs, before)
	return 1, nil
}

// TestRunPurgesExpiredRequestIDsHourly: Run deletes the request ids expired at its start and
// then every hour, and returns nil once its context ends.
func TestRunPurgesExpiredRequestIDsHourly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reqs := &purgeRecorder{}
		svc := New(Config{Requests: reqs, Logger: slog.New(slog.DiscardHandler)})
		ctx, cancel := context.WithCancel(t.Context())
		t0 := time.Now()
		done := make(chan error, 1)
		go func() { done <- svc.Run(ctx) }()

		time.Sleep(3*time.Hour + time.Minute)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v, want nil", err)
		}
		reqs.mu.Lock()
		defer reqs.mu.Unlock()
		want := []time.Time{t0, t0.Add(time.Hour), t0.Add(2 * time.Hour), t0.Add(3 * time.Hour)}
		if len(reqs.cutoffs) != len(want) {
			t.Fatalf("purged with cutoffs %v, want %v", reqs.cutoffs, want)
		}
		for i := range want {
			if !reqs.cutoffs[i].Equal(want[i]) {
				t.Errorf("purge %d: cutoff %v, want %v (the time of the purge)", i, reqs.cutoffs[i], want[i])
			}
		}
	})
}
