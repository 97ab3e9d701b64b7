package tasks

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/storage"
)

// PersonResultFromFiber maps one Fiber page result onto the contract. Fiber's type and status
// strings are kept verbatim next to the enums, so a value Fiber adds later is not lost.
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

// Fiber's enum strings; anything else maps to UNSPECIFIED and stays in fiber_type/status.
func emailType(s string) cdv1.EmailType {
	switch s {
	case "work":
		return cdv1.EmailType_EMAIL_TYPE_WORK
	case "personal":
		return cdv1.EmailType_EMAIL_TYPE_PERSONAL
	case "other":
		return cdv1.EmailType_EMAIL_TYPE_OTHER
	case "unknown":
		return cdv1.EmailType_EMAIL_TYPE_UNKNOWN
	case "generic":
		return cdv1.EmailType_EMAIL_TYPE_GENERIC
	}
	return cdv1.EmailType_EMAIL_TYPE_UNSPECIFIED
}

func emailStatus(s string) cdv1.EmailStatus {
	switch s {
	case "valid":
		return cdv1.EmailStatus_EMAIL_STATUS_VALID
	case "risky":
		return cdv1.EmailStatus_EMAIL_STATUS_RISKY
	case "unknown":
		return cdv1.EmailStatus_EMAIL_STATUS_UNKNOWN
	case "invalid":
		return cdv1.EmailStatus_EMAIL_STATUS_INVALID
	}
	return cdv1.EmailStatus_EMAIL_STATUS_UNSPECIFIED
}

func phoneType(s string) cdv1.PhoneType {
	switch s {
	case "mobile":
		return cdv1.PhoneType_PHONE_TYPE_MOBILE
	case "other":
		return cdv1.PhoneType_PHONE_TYPE_OTHER
	case "unknown":
		return cdv1.PhoneType_PHONE_TYPE_UNKNOWN
	}
	return cdv1.PhoneType_PHONE_TYPE_UNSPECIFIED
}

// decodeResults turns stored results back into contract messages.
func decodeResults(rs []storage.Result) ([]*cdv1.PersonResult, error) {
	out := make([]*cdv1.PersonResult, len(rs))
	for i, r := range rs {
		pr := &cdv1.PersonResult{}
		if err := proto.Unmarshal(r.Data, pr); err != nil {
			return nil, fmt.Errorf("decode result %d: %w", r.Seq, err)
		}
		pr.Sequence = int32(r.Seq)
		out[i] = pr
	}
	return out, nil
}

func statsFromFiber(s fiber.OverallStats) storage.Stats {
	return storage.Stats{
		TotalPeopleToFetch: s.TotalPeopleToFetch, NumCompleted: s.NumCompleted, NumFailed: s.NumFailed,
		NumRemaining: s.NumRemaining, NumRejected: s.NumRejected, NumDuplicates: s.NumDuplicates,
	}
}
