package fiberpb_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberpb"
)

// TestPersonResultFromFiberEnums: Fiber's documented strings map to the contract's enums;
// anything else (a value Fiber adds later, another spelling, "unspecified") is UNSPECIFIED, and
// Fiber's string is kept either way.
func TestPersonResultFromFiberEnums(t *testing.T) {
	in := fiber.PersonResult{LinkedInURL: "u", Emails: []fiber.Email{
		{Email: "a", Type: "work", Status: "valid"},
		{Email: "b", Type: "personal", Status: "risky"},
		{Email: "c", Type: "other", Status: "unknown"},
		{Email: "d", Type: "unknown", Status: "invalid"},
		{Email: "e", Type: "generic"},
		{Email: "f", Type: "WORK", Status: "Valid"},
		{Email: "g", Type: "role-based", Status: "catch-all"},
		{Email: "h", Type: "unspecified", Status: "unspecified"},
	}, PhoneNumbers: []fiber.Phone{
		{Number: "1", Type: "mobile"}, {Number: "2", Type: "other"}, {Number: "3", Type: "unknown"},
		{Number: "4", Type: "landline"}, {Number: "5"},
	}}
	want := &cdv1.PersonResult{LinkedinUrl: "u", Sequence: 7, Emails: []*cdv1.Email{
		{Email: "a", Type: cdv1.EmailType_EMAIL_TYPE_WORK, FiberType: "work", Status: cdv1.EmailStatus_EMAIL_STATUS_VALID, FiberStatus: "valid"},
		{Email: "b", Type: cdv1.EmailType_EMAIL_TYPE_PERSONAL, FiberType: "personal", Status: cdv1.EmailStatus_EMAIL_STATUS_RISKY, FiberStatus: "risky"},
		{Email: "c", Type: cdv1.EmailType_EMAIL_TYPE_OTHER, FiberType: "other", Status: cdv1.EmailStatus_EMAIL_STATUS_UNKNOWN, FiberStatus: "unknown"},
		{Email: "d", Type: cdv1.EmailType_EMAIL_TYPE_UNKNOWN, FiberType: "unknown", Status: cdv1.EmailStatus_EMAIL_STATUS_INVALID, FiberStatus: "invalid"},
		{Email: "e", Type: cdv1.EmailType_EMAIL_TYPE_GENERIC, FiberType: "generic"},
		{Email: "f", FiberType: "WORK", FiberStatus: "Valid"},
		{Email: "g", FiberType: "role-based", FiberStatus: "catch-all"},
		{Email: "h", FiberType: "unspecified", FiberStatus: "unspecified"},
	}, PhoneNumbers: []*cdv1.PhoneNumber{
		{Number: "1", Type: cdv1.PhoneType_PHONE_TYPE_MOBILE, FiberType: "mobile"},
		{Number: "2", Type: cdv1.PhoneType_PHONE_TYPE_OTHER, FiberType: "other"},
		{Number: "3", Type: cdv1.PhoneType_PHONE_TYPE_UNKNOWN, FiberType: "unknown"},
		{Number: "4", FiberType: "landline"},
		{Number: "5"},
	}}
	if diff := cmp.Diff(want, fiberpb.PersonResultFromFiber(in, 7), protocmp.Transform()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
