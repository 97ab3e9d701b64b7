package tasks

import "time"

// Clock is the engine's time source. Tests give the engine and the Fiber simulator one fake
// clock, so polling is deterministic.
type Clock interface {
	Now() time.Time
	// NewTimer returns a channel that receives once d has passed, and a stop func that
	// releases the timer if it has not fired.
	NewTimer(d time.Duration) (<-chan time.Time, func() bool)
}

// realClock is the Clock of the wall.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}
