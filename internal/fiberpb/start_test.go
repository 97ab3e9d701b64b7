package fiberpb_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberpb"
)

func TestStartTranslationKeepsUnsetEnrichmentTypesUnset(t *testing.T) {
	req := &cdv1.StartBatchRequest{
		PersonDetails:   []*cdv1.PersonDetails{{LinkedinUrl: &cdv1.LinkedInUrl{Value: "https://www.linkedin.com/in/jake"}}},
		EnrichmentTypes: &cdv1.EnrichmentTypes{GetPhoneNumbers: ptr(false)},
	}
	got := fiberpb.StartRequestToFiber(req)
	want := fiber.StartRequest{
		LinkedInURLs:    []string{"https://www.linkedin.com/in/jake"},
		EnrichmentTypes: &fiber.EnrichmentTypes{PhoneNumbers: ptr(false)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// fiber's TestRequestWireFormat holds the body of this request to
	// {..."enrichmentTypes":{"getPhoneNumbers":false}}.
}

// TestStartResponseFromFiber: every field of Fiber's start answer reaches the contract; an
// absent numDuplicatesSkipped stays absent.
func TestStartResponseFromFiber(t *testing.T) {
	in := &fiber.StartResponse{
		TaskID: "t1", NumPeopleEnqueued: 2, NumDuplicatesSkipped: ptr(1),
		Charge:   fiber.ChargeInfo{Method: "free", Message: ptr("on us")},
		Warnings: []fiber.Warning{{Field: "personDetails[2]", Message: "duplicate"}},
		Advice:   []string{"batch more"},
	}
	want := &cdv1.StartBatchResponse{
		Output:     &cdv1.StartBatchOutput{TaskId: "t1", NumPeopleEnqueued: 2, NumDuplicatesSkipped: ptr(int32(1))},
		ChargeInfo: &cdv1.ChargeInfo{FiberMethod: "free", Method: &cdv1.ChargeInfo_Free{Free: &cdv1.Free{Message: "on us"}}},
		Warnings:   []*cdv1.Warning{{Field: "personDetails[2]", Message: "duplicate"}},
		Advice:     []string{"batch more"},
	}
	if diff := cmp.Diff(want, fiberpb.StartResponseFromFiber(in), protocmp.Transform()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	in.NumDuplicatesSkipped = nil
	if got := fiberpb.StartResponseFromFiber(in).GetOutput(); got.NumDuplicatesSkipped != nil {
		t.Errorf("numDuplicatesSkipped = %d, want absent", got.GetNumDuplicatesSkipped())
	}
}
