package service

import (
	"sync"

	"github.com/fibergate/fibergate/internal/apierr"
)

// DefaultMaxWatchStreams is how many WatchTask streams one principal may hold open at once.
const DefaultMaxWatchStreams = 100

// streamQuota counts open watch streams per principal. Safe for concurrent use.
type streamQuota struct {
	max  int
	mu   sync.Mutex // guards open
	open map[string]int
}

func newStreamQuota(max int) *streamQuota {
	if max <= 0 {
		max = DefaultMaxWatchStreams
	}
	return &streamQuota{max: max, open: map[string]int{}}
}

// acquire takes a slot for principal, or fails with apierr.ErrTooManyStreams. The returned func
// gives it back.
func (q *streamQuota) acquire(principal string) (release func(), err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.open[principal] >= q.max {
		return nil, apierr.ErrTooManyStreams
	}
	q.open[principal]++
	var once sync.Once
	return func() {
		once.Do(func() {
			q.mu.Lock()
			defer q.mu.Unlock()
			if q.open[principal]--; q.open[principal] == 0 {
				delete(q.open, principal)
			}
		})
	}, nil
}
