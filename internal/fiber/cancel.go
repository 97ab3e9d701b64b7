package fiber

import "context"

// CancelResponse is Fiber's answer to a successful cancel.
type CancelResponse struct {
	// CancelledCount is how many people were cancelled before being processed.
	CancelledCount int
	// CreditsRefunded is what was refunded for them.
	CreditsRefunded float64
	// Message is Fiber's explanation.
	Message string
}

// Cancel cancels the people of a task that Fiber has not started on; those are refunded, the
// processed ones stay charged. On KindOutcomeUnknown the cancel may or may not have happened;
// polling the task tells.
func (c *Client) Cancel(ctx context.Context, apiKey, taskID string) (*CancelResponse, error) {
	body, status, err := c.attempt(ctx, EndpointCancel, apiKey, &cancelRequestWire{APIKey: apiKey, TaskID: taskID})
	if err != nil {
		return nil, err
	}
	resp, err := DecodeCancelResponse(body)
	if err != nil {
		return nil, undecodable(EndpointCancel, status, "undecodable answer", sanitize(err, apiKey))
	}
	return resp, nil
}
