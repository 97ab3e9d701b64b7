package fiberpb

import (
	"strings"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
)

// PersonResultFromFiber maps one Fiber page result onto the contract; seq is its sequence
// number in the task. Fiber's type and status strings are kept verbatim next to the enums,
// so a value Fiber adds later is not lost.
func PersonResultFromFiber(r fiber.PersonResult, seq int) *cdv1.PersonResult {
	out := &cdv1.PersonResult{
		LinkedinUrl: r.LinkedInURL,
		NoDataFound: r.NoData,
		Exhaustive:  r.Exhaustive,
		Sequence:    int32(seq),
	}
	for _, e := range r.Emails {
		out.Emails = append(out.Emails, &cdv1.Email{
			Email: e.Email, Type: emailType(e.Type), FiberType: e.Type,
			Status: emailStatus(e.Status), FiberStatus: e.Status,
		})
	}
	for _, p := range r.PhoneNumbers {
		out.PhoneNumbers = append(out.PhoneNumbers, &cdv1.PhoneNumber{
			Number: p.Number, Type: phoneType(p.Type), FiberType: p.Type,
		})
	}
	return out
}

// The contract's enum values are Fiber's strings in upper case behind a prefix ("work" is
// EMAIL_TYPE_WORK): the generated value tables map them, so a value added to the contract maps
// without more code. Anything else, upper-case spellings included, is UNSPECIFIED and stays
// in fiber_type / fiber_status.
func emailType(s string) cdv1.EmailType {
	return cdv1.EmailType(enumValue(cdv1.EmailType_value, "EMAIL_TYPE_", s))
}

func emailStatus(s string) cdv1.EmailStatus {
	return cdv1.EmailStatus(enumValue(cdv1.EmailStatus_value, "EMAIL_STATUS_", s))
}

func phoneType(s string) cdv1.PhoneType {
	return cdv1.PhoneType(enumValue(cdv1.PhoneType_value, "PHONE_TYPE_", s))
}

// enumValue looks Fiber's lower-case string s up in a generated value table; 0 (UNSPECIFIED)
// when it is not there.
func enumValue(values map[string]int32, prefix, s string) int32 {
	if s == "" || s != strings.ToLower(s) {
		return 0
	}
	return values[prefix+strings.ToUpper(s)]
}
