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
			Email: e.Email, Type: emailTypes[e.Type], FiberType: e.Type,
			Status: emailStatuses[e.Status], FiberStatus: e.Status,
		})
	}
	for _, p := range r.PhoneNumbers {
		out.PhoneNumbers = append(out.PhoneNumbers, &cdv1.PhoneNumber{
			Number: p.Number, Type: phoneTypes[p.Type], FiberType: p.Type,
		})
	}
	return out
}

var (
	emailTypes = map[string]cdv1.EmailType{
		"work": cdv1.EmailType_EMAIL_TYPE_WORK, "personal": cdv1.EmailType_EMAIL_TYPE_PERSONAL,
		"other": cdv1.EmailType_EMAIL_TYPE_OTHER, "unknown": cdv1.EmailType_EMAIL_TYPE_UNKNOWN,
		"generic": cdv1.EmailType_EMAIL_TYPE_GENERIC,
	}
	emailStatuses = map[string]cdv1.EmailStatus{
		"valid": cdv1.EmailStatus_EMAIL_STATUS_VALID, "risky": cdv1.EmailStatus_EMAIL_STATUS_RISKY,
		"unknown": cdv1.EmailStatus_EMAIL_STATUS_UNKNOWN, "invalid": cdv1.EmailStatus_EMAIL_STATUS_INVALID,
	}
	phoneTypes = map[string]cdv1.PhoneType{
		"mobile": cdv1.PhoneType_PHONE_TYPE_MOBILE, "other": cdv1.PhoneType_PHONE_TYPE_OTHER,
		"unknown": cdv1.PhoneType_PHONE_TYPE_UNKNOWN,
	}
)

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
