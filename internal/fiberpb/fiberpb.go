// Package fiberpb maps the Fiber client's types (internal/fiber) onto the contract's messages
// (gen/fibergate/contactdetails/v1) and back: the start request to Fiber, and Fiber's start
// answer, charge info, person results and cancellation onto the contract.
//
// A mapping keeps what Fiber says even where the contract has no enum value for it: Fiber's
// strings travel beside the enums (fiber_method, fiber_type, fiber_status). Counts go through
// Count. The functions are pure and safe for concurrent use.
package fiberpb

import "math"

// Count fits a count into the contract's int32: a negative count (which Fiber never sends) is
// 0, and one past math.MaxInt32 is math.MaxInt32.
func Count(n int) int32 {
	return int32(min(max(n, 0), math.MaxInt32))
}
