package service_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/service"
)

func ptr[T any](v T) *T { return &v }

func TestChargeInfoFromFiberCoversEveryMethod(t *testing.T) {
	alert := &fiber.CreditAlert{GetMoreCreditsURL: "https://fiber.ai/credits", Message: "low", AvailableCredits: 12.5}
	palert := &cdv1.LowCreditAlert{GetMoreCreditsUrl: "https://fiber.ai/credits", Message: "low", AvailableCredits: 12.5}
	tests := []struct {
		in   fiber.ChargeInfo
		want *cdv1.ChargeInfo
	}{
		{fiber.ChargeInfo{Method: "charged-now", CreditsCharged: ptr(5.0), LowCreditAlert: alert},
			&cdv1.ChargeInfo{FiberMethod: "charged-now", Method: &cdv1.ChargeInfo_ChargedNow{ChargedNow: &cdv1.ChargedNow{CreditsCharged: 5, LowCreditAlert: palert}}}},
		{fiber.ChargeInfo{Method: "charging-later", Message: ptr("later")},
			&cdv1.ChargeInfo{FiberMethod: "charging-later", Method: &cdv1.ChargeInfo_ChargingLater{ChargingLater: &cdv1.ChargingLater{Message: "later"}}}},
		{fiber.ChargeInfo{Method: "charged-for-async-process", CreditsCharged: ptr(2.5), Message: ptr("async"), LowCreditAlert: alert},
			&cdv1.ChargeInfo{FiberMethod: "charged-for-async-process", Method: &cdv1.ChargeInfo_ChargedForAsyncProcess{ChargedForAsyncProcess: &cdv1.ChargedForAsyncProcess{CreditsCharged: 2.5, Message: "async", LowCreditAlert: palert}}}},
		{fiber.ChargeInfo{Method: "free", Message: ptr("on us")},
			&cdv1.ChargeInfo{FiberMethod: "free", Method: &cdv1.ChargeInfo_Free{Free: &cdv1.Free{Message: "on us"}}}},
		{fiber.ChargeInfo{Method: "credits-refunded", CreditsRefunded: ptr(10.0), Message: ptr("back")},
			&cdv1.ChargeInfo{FiberMethod: "credits-refunded", Method: &cdv1.ChargeInfo_CreditsRefunded{CreditsRefunded: &cdv1.CreditsRefunded{CreditsRefunded: 10, Message: "back"}}}},
		// A method Fiber adds later: the oneof stays unset, the string is kept.
		{fiber.ChargeInfo{Method: "charged-by-the-minute", CreditsCharged: ptr(1.0)},
			&cdv1.ChargeInfo{FiberMethod: "charged-by-the-minute"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, service.ChargeInfoFromFiber(tt.in), protocmp.Transform()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.in.Method, diff)
		}
	}
}

func TestStartTranslationKeepsUnsetEnrichmentTypesUnset(t *testing.T) {
	req := &cdv1.StartBatchRequest{
		PersonDetails:   []*cdv1.PersonDetails{{LinkedinUrl: &cdv1.LinkedInUrl{Value: "https://www.linkedin.com/in/jake"}}},
		EnrichmentTypes: &cdv1.EnrichmentTypes{GetPhoneNumbers: ptr(false)},
	}
	got := service.StartRequestToFiber(req)
	want := fiber.StartRequest{
		LinkedInURLs:    []string{"https://www.linkedin.com/in/jake"},
		EnrichmentTypes: &fiber.EnrichmentTypes{PhoneNumbers: ptr(false)},
	}
	// fiber's TestRequestWireFormat holds the body of this request to
	// {..."enrichmentTypes":{"getPhoneNumbers":false}}.
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
