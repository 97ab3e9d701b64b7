package service

import (
	"context"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
)

// StartBatch starts a Fiber batch and returns Fiber's answer mapped onto the contract. The
// request was validated by the protovalidate interceptor before it got here.
func (s *Service) StartBatch(ctx context.Context, req *cdv1.StartBatchRequest) (*cdv1.StartBatchResponse, error) {
	key, err := s.apiKey(req.GetApiKey())
	if err != nil {
		return nil, ToStatus(err)
	}
	resp, err := s.fiber.Start(ctx, key, StartRequestToFiber(req))
	if err != nil {
		s.log.WarnContext(ctx, "fiber start failed", "key_id", fiber.KeyID(key), "people", len(req.GetPersonDetails()), "err", err)
		return nil, ToStatus(err)
	}
	out := StartResponseFromFiber(resp)
	out.Warnings = append(requestWarnings(ctx, req), out.Warnings...)
	return out, nil
}

// StartRequestToFiber translates a validated StartBatchRequest to the upstream client's type.
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
			NumPeopleEnqueued: clampInt32(r.NumPeopleEnqueued),
		},
		ChargeInfo: ChargeInfoFromFiber(r.Charge),
		Advice:     r.Advice,
	}
	if r.NumDuplicatesSkipped != nil {
		n := clampInt32(*r.NumDuplicatesSkipped)
		out.Output.NumDuplicatesSkipped = &n
	}
	for _, w := range r.Warnings {
		out.Warnings = append(out.Warnings, &cdv1.Warning{Field: w.Field, Message: w.Message})
	}
	return out
}

func clampInt32(n int) int32 {
	const maxInt32 = 1<<31 - 1
	switch {
	case n > maxInt32:
		return maxInt32
	case n < -maxInt32-1:
		return -maxInt32 - 1
	}
	return int32(n)
}
