package fiberpb

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
)

// CancellationFromFiber maps Fiber's answer to a cancel, received at time at, onto the
// contract.
func CancellationFromFiber(r *fiber.CancelResponse, at time.Time) *cdv1.Cancellation {
	return &cdv1.Cancellation{
		CancelledCount:  Count(r.CancelledCount),
		CreditsRefunded: r.CreditsRefunded,
		Message:         r.Message,
		CancelTime:      timestamppb.New(at),
	}
}
