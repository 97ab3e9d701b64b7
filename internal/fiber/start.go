package fiber

import "context"

// StartRequest is what a start asks of Fiber.
type StartRequest struct {
	// LinkedInURLs are the people to enrich, 1 to 2000 profile URLs. Fiber skips (and does not
	// charge) duplicates. The client sends them without checking them, as encoding/json writes
	// them (invalid UTF-8 becomes U+FFFD).
	LinkedInURLs []string
	// EnrichmentTypes selects the kinds of contact details; nil leaves the field out, which
	// Fiber takes as "all of them".
	EnrichmentTypes *EnrichmentTypes
}

// EnrichmentTypes selects the kinds of contact details a start requests; credits are charged
// per selected kind. A nil field is left out of the request, and Fiber's default for it is true.
type EnrichmentTypes struct {
	// WorkEmails is sent as getWorkEmails.
	WorkEmails *bool
	// PersonalEmails is sent as getPersonalEmails.
	PersonalEmails *bool
	// PhoneNumbers is sent as getPhoneNumbers.
	PhoneNumbers *bool
}

// StartResponse is Fiber's answer to a successful start.
type StartResponse struct {
	// TaskID identifies the batch for Poll and Cancel; never empty.
	TaskID string
	// NumPeopleEnqueued is how many people were queued (and charged for).
	NumPeopleEnqueued int
	// NumDuplicatesSkipped is how many duplicates were skipped, nil when Fiber did not say.
	NumDuplicatesSkipped *int
	// Charge tells how the start was billed; its zero value when Fiber sent no chargeInfo.
	Charge ChargeInfo
	// Warnings are Fiber's warnings about the request, such as extraneous fields.
	Warnings []Warning
	// Advice are Fiber's tips on using the API.
	Advice []string
}

// ChargeInfo is Fiber's chargeInfo: how a call was billed. Which fields are set depends on
// Method; a field Fiber did not send is nil.
type ChargeInfo struct {
	// Method is Fiber's discriminator as sent: "charged-now", "charging-later",
	// "charged-for-async-process", "free", "credits-refunded", or a value added since, kept
	// as is.
	Method string
	// CreditsCharged is set for "charged-now" and "charged-for-async-process".
	CreditsCharged *float64
	// CreditsRefunded is set for "credits-refunded".
	CreditsRefunded *float64
	// Message is Fiber's explanation, set for every method but "charged-now".
	Message *string
	// LowCreditAlert warns that credits are running low; nil when Fiber sent none.
	LowCreditAlert *CreditAlert
}

// CreditAlert is Fiber's lowCreditAlert or outOfCreditsAlert.
type CreditAlert struct {
	// GetMoreCreditsURL is where to top up credits.
	GetMoreCreditsURL string
	// Message is Fiber's human-readable warning.
	Message string
	// AvailableCredits is what remains in the current billing period.
	AvailableCredits float64
}

// Warning is one of Fiber's warnings about a request.
type Warning struct {
	// Field is the path of the field concerned, such as "searchParams.ExtraField".
	Field string
	// Message says what is wrong with it.
	Message string
}

// Start asks Fiber to fetch contact details for req.LinkedInURLs, as one batch task billed to
// apiKey's account. It costs credits.
//
// On error, check the Kind: KindOutcomeUnknown means the task may exist and may have been
// charged, so blindly starting again risks paying twice; Fiber offers no idempotency key.
// A context that ends before the request is sent comes back as the context error, wrapped.
func (c *Client) Start(ctx context.Context, apiKey string, req StartRequest) (*StartResponse, error) {
	body, status, err := c.attempt(ctx, EndpointStart, apiKey, newStartRequestWire(apiKey, req))
	if err != nil {
		return nil, err
	}
	resp, err := DecodeStartResponse(body)
	if err != nil {
		return nil, undecodable(EndpointStart, status, "undecodable answer, the task may exist", sanitize(err, apiKey))
	}
	return resp, nil
}
