package tasks

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock (and a fiberfake.Clock) that moves only when the test says. It tracks
// the timers waiting on it, so a test can wait until every poller sleeps and then jump to the
// next deadline: polling becomes a deterministic function of the simulated time.
type fakeClock struct {
	mu      sync.Mutex // guards now, timers, changed
	now     time.Time
	timers  map[*fakeTimer]bool
	changed chan struct{} // closed when timers change
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), timers: map[*fakeTimer]bool{}, changed: make(chan struct{})}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
		return t.c, func() bool { return false }
	}
	c.timers[t] = true
	c.signal()
	return t.c, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.timers[t] {
			return false
		}
		delete(c.timers, t)
		c.signal()
		return true
	}
}

// signal wakes waitTimers. Callers hold c.mu.
func (c *fakeClock) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// advanceToNext moves time to the earliest pending deadline and fires the timers due.
func (c *fakeClock) advanceToNext() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var due []*fakeTimer
	for t := range c.timers {
		due = append(due, t)
	}
	if len(due) == 0 {
		return c.now
	}
	sort.Slice(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	c.now = due[0].at
	for _, t := range due {
		if t.at.After(c.now) {
			break
		}
		delete(c.timers, t)
		t.c <- c.now
	}
	c.signal()
	return c.now
}

// pendingChanged returns the number of pending timers and a channel closed when it changes.
func (c *fakeClock) pendingChanged() (int, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers), c.changed
}

// waitPending blocks until exactly n timers are pending on c, or fails t at ctx's end.
func (c *fakeClock) waitPending(t testing.TB, ctx context.Context, n int) {
	t.Helper()
	for {
		pending, changed := c.pendingChanged()
		if pending == n {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("%d timers pending on the fake clock, want %d", pending, n)
		}
	}
}

// advance moves time forward by d and fires the timers due.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for t := range c.timers {
		if !t.at.After(c.now) {
			delete(c.timers, t)
			t.c <- c.now
		}
	}
	c.signal()
}
