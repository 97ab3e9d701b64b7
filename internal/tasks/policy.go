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
	// FirstPoll is the wait between starting a task and its first poll, which also gives the
	// first measure of Fiber's pace. Default 1s.
	FirstPoll time.Duration
	// MinInterval is the shortest wait between two polls, unless a full page is already
	// waiting. Default 500ms.
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
	def(&p.FirstPoll, time.Second)
	def(&p.MinInterval, 500*time.Millisecond)
	def(&p.MaxInterval, 30*time.Second)
	def(&p.WatchedMaxInterval, 2*time.Second)
	def(&p.RetryMin, time.Second)
	def(&p.RetryMax, time.Minute)
	p.WatchedMaxInterval = min(p.WatchedMaxInterval, p.MaxInterval)
	p.MinInterval = min(p.MinInterval, p.WatchedMaxInterval)
	p.FirstPoll = min(p.FirstPoll, p.WatchedMaxInterval)
	return p
}

// pacer decides the wait before a task's next poll from the history of its polls. One per
// poller; not safe for concurrent use.
type pacer struct {
	policy Policy
	idle   time.Duration // current backoff while nothing changes
	// The last observation that saw progress, and Fiber's pace measured between such
	// observations (people finished per second; 0 until measured).
	lastDone int
	lastAt   time.Time
	rate     float64
}

// newPacer starts a pacer. For a task just started, created is the start time: Fiber's pace
// is then measured from the first poll on (nobody was finished at the start).
func newPacer(p Policy, created time.Time, fresh bool) *pacer {
	pc := &pacer{policy: p}
	if fresh {
		pc.lastAt = created
	}
	return pc
}

// observe records a poll answer's stats at time now.
func (p *pacer) observe(now time.Time, s storage.Stats) {
	done := s.NumCompleted + s.NumFailed
	switch {
	case p.lastAt.IsZero():
		p.lastDone, p.lastAt = done, now
	case done > p.lastDone:
		if dt := now.Sub(p.lastAt).Seconds(); dt > 0 {
			measured := float64(done-p.lastDone) / dt
			if p.rate == 0 {
				p.rate = measured
			} else {
				p.rate = 0.5*p.rate + 0.5*measured
			}
		}
		p.lastDone, p.lastAt = done, now
		p.idle = 0
	}
}

// next returns how long to wait after a poll. t is the task after the poll; watched says
// whether anybody watches it.
//
// A page pays off when it comes back full with a new cursor: that needs PageSize+1 results
// beyond the cursor (a caught-up page may carry a null cursor). Skip of those are already
// stored, pending = finished people not stored yet are waiting, so the poller waits until
// need = PageSize+1-skip-pending more people are finished, or until the task should be done
// if sooner, at the measured pace.
func (p *pacer) next(t storage.Task, watched bool) time.Duration {
	if t.Progress.FiberDone {
		return 0 // drain the last pages at once
	}
	ceiling := p.policy.MaxInterval
	if watched {
		ceiling = p.policy.WatchedMaxInterval
	}
	pending := max(0, t.Stats.NumCompleted+t.Stats.NumFailed-t.NumResults)
	need := PageSize + 1 - t.Progress.Skip - pending
	if need <= 0 {
		return 0 // a full page is waiting
	}
	if r := t.Stats.NumRemaining; r > 0 && r < need {
		need = r
	}
	if p.rate <= 0 {
		if p.idle == 0 {
			p.idle = p.policy.MinInterval
		} else {
			p.idle = min(2*p.idle, ceiling)
		}
		return clamp(p.idle, p.policy.MinInterval, ceiling)
	}
	wait := time.Duration(float64(need) / p.rate * float64(time.Second))
	return clamp(wait, p.policy.MinInterval, ceiling)
}

// backoff returns the wait after the n-th consecutive failure (n ≥ 1) of a poll or a store
// call.
func (p Policy) backoff(n int) time.Duration {
	d := p.RetryMin
	for i := 1; i < n && d < p.RetryMax; i++ {
		d *= 2
	}
	return min(d, p.RetryMax)
}

func clamp(d, lo, hi time.Duration) time.Duration {
	return max(lo, min(d, hi))
}
