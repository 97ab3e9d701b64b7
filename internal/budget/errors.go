package budget

import (
	"fmt"
	"time"

	"github.com/fibergate/fibergate/internal/fiber"
)

// WaitError is returned by Limiter.Wait when the slot would come too late: after the context's
// deadline less Config.SendReserve, or after Config.MaxWait. Either way nothing is to be sent
// upstream. Mostly it is returned at once, without queuing; a queued Wait whose slot came with
// less than SendReserve left before the deadline also ends with one, whose RetryAfter and Ahead
// are zero. The server maps it to RESOURCE_EXHAUSTED with RetryAfter as the retry delay.
type WaitError struct {
	// KeyID names the API key (fiber.KeyID), never the key itself.
	KeyID string
	// Endpoint is the endpoint whose budget is spent.
	Endpoint fiber.Endpoint
	// Limit is the endpoint's limit.
	Limit Limit
	// RetryAfter is the expected delay until a slot would be granted to this request, given the
	// queue ahead of it, the window and any 429 pause.
	RetryAfter time.Duration
	// Ahead is how many waiters would have been served first.
	Ahead int
	// Allowed is how long the request could have waited: the time left before its context's
	// deadline less Config.SendReserve, or Config.MaxWait when that is shorter; for a slot
	// that came too late, the time that was left before the deadline.
	Allowed time.Duration
	// MaxWait tells that Allowed is Config.MaxWait rather than the context's deadline.
	MaxWait bool
}

// Error says which bucket is exhausted and when a slot is expected.
func (e *WaitError) Error() string {
	bound := "deadline"
	if e.MaxWait {
		bound = "max wait"
	}
	return fmt.Sprintf("budget: no %s slot for key %s within %v (%s): next expected in %v with %d ahead, limit %v",
		e.Endpoint, e.KeyID, e.Allowed.Round(time.Millisecond), bound, e.RetryAfter.Round(time.Millisecond), e.Ahead, e.Limit)
}
