package tasks

import (
	"time"

	"github.com/fibergate/fibergate/internal/storage"
)

// PageSize is what every poll asks for: Fiber's maximum take.
const PageSize = 100

// Policy tunes when pollers poll; see the package documentation. The zero value means the
// defaults.
type Policy struct {
	// MinInterval is the shortest wait between two polls of a task that returned a partial
	// page. Default 500ms.
	MinInterval time.Duration
	// MaxInterval caps the wait of a task nobody watches. Default 30s.
	MaxInterval time.Duration
	// WatchedMaxInterval caps the wait of a watched task. Default 2s.
	WatchedMaxInterval time.Duration
	// RetryMin and RetryMax bound the backoff after a failed poll. Defaults 1s and 1m.
	RetryMin, RetryMax time.Duration
}

func (p Policy) withDefaults() Policy {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&p.MinInterval, 500*time.Millisecond)
	def(&p.MaxInterval, 30*time.Second)
	def(&p.WatchedMaxInterval, 2*time.Second)
	def(&p.RetryMin, time.Second)
	def(&p.RetryMax, time.Minute)
	p.WatchedMaxInterval = min(p.WatchedMaxInterval, p.MaxInterval)
	p.MinInterval = min(p.MinInterval, p.WatchedMaxInterval)
	return p
}

// pacer decides the wait before a task's next poll from the history of its polls. One per
// poller; not safe for concurrent use.
type pacer struct {
	policy Policy
	idle   time.Duration // current backoff while nothing changes
	// Fiber's pace, from the last poll that saw progress.
	lastDone int
	lastAt   time.Time
	rate     float64 // people finished per second; 0 until measured
}

// observe records a poll answer's stats at time now.
func (p *pacer) observe(now time.Time, s storage.Stats) (progressed bool) {
	done := s.NumCompleted + s.NumFailed
	if !p.lastAt.IsZero() && done > p.lastDone {
		if dt := now.Sub(p.lastAt).Seconds(); dt > 0 {
			measured := float64(done-p.lastDone) / dt
			if p.rate == 0 {
				p.rate = measured
			} else {
				p.rate = 0.5*p.rate + 0.5*measured
			}
		}
	}
	progressed = done > p.lastDone || p.lastAt.IsZero()
	if progressed || p.lastAt.IsZero() {
		p.lastDone, p.lastAt = done, now
	}
	return progressed
}

// next returns how long to wait after a poll that returned a partial page. pending is the
// number of finished people whose results are not stored yet (0 after a partial page, in
// general), remaining how many Fiber still has to do.
func (p *pacer) next(progressed, watched bool, pending, remaining int) time.Duration {
	ceiling := p.policy.MaxInterval
	if watched {
		ceiling = p.policy.WatchedMaxInterval
	}
	if !progressed || p.rate <= 0 {
		if p.idle == 0 {
			p.idle = p.policy.MinInterval
		} else {
			p.idle = min(2*p.idle, ceiling)
		}
		return clamp(p.idle, p.policy.MinInterval, ceiling)
	}
	p.idle = 0
	need := float64(PageSize - pending) // people to finish until a full page waits
	if remaining > 0 && float64(remaining) < need {
		need = float64(remaining) // the task ends before a page fills
	}
	if need <= 0 {
		return p.policy.MinInterval
	}
	wait := time.Duration(need / p.rate * float64(time.Second))
	return clamp(wait, p.policy.MinInterval, ceiling)
}

// retry returns the backoff after the n-th consecutive failure (n ≥ 1).
func (p *pacer) retry(n int) time.Duration {
	d := p.policy.RetryMin
	for i := 1; i < n && d < p.policy.RetryMax; i++ {
		d *= 2
	}
	return min(d, p.policy.RetryMax)
}

func clamp(d, lo, hi time.Duration) time.Duration {
	return max(lo, min(d, hi))
}
