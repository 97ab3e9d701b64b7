package fiberpb

import (
	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
)

// StartRequestToFiber translates a validated StartBatchRequest to the upstream client's type.
// Enrichment types the request leaves unset stay unset, so that Fiber applies its defaults.
func StartRequestToFiber(req *cdv1.StartBatchRequest) fiber.StartRequest {
	urls := make([]string, len(req.GetPersonDetails()))
	for i, p := range req.GetPersonDetails() {
		urls[i] = p.GetLinkedinUrl().GetValue()
	}
	out := fiber.StartRequest{LinkedInURLs: urls}
	if et := req.GetEnrichmentTypes(); et != nil {
		out.EnrichmentTypes = &fiber.EnrichmentTypes{
			WorkEmails:     et.GetWorkEmails,
			PersonalEmails: et.GetPersonalEmails,
			PhoneNumbers:   et.GetPhoneNumbers,
		}
	}
	return out
}

// StartResponseFromFiber maps Fiber's start answer onto the contract.
func StartResponseFromFiber(r *fiber.StartResponse) *cdv1.StartBatchResponse {
	out := &cdv1.StartBatchResponse{
		Output: &cdv1.StartBatchOutput{
			TaskId:            r.TaskID,
			NumPeopleEnqueued: Count(r.NumPeopleEnqueued),
		},
		ChargeInfo: ChargeInfoFromFiber(r.Charge),
		Advice:     r.Advice,
	}
	if r.NumDuplicatesSkipped != nil {
		n := Count(*r.NumDuplicatesSkipped)
		out.Output.NumDuplicatesSkipped = &n
	}
	for _, w := range r.Warnings {
		out.Warnings = append(out.Warnings, &cdv1.Warning{Field: w.Field, Message: w.Message})
	}
	return out
}
