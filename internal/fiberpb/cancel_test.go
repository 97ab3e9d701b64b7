package fiberpb_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberpb"
)

func TestCancellationFromFiber(t *testing.T) {
	at := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	got := fiberpb.CancellationFromFiber(&fiber.CancelResponse{CancelledCount: 3, CreditsRefunded: 15, Message: "refunded"}, at)
	want := &cdv1.Cancellation{CancelledCount: 3, CreditsRefunded: 15, Message: "refunded", CancelTime: timestamppb.New(at)}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
