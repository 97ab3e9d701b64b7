package fiber

import "context"

// PollRequest asks for the progress of a task and the next page of its results.
type PollRequest struct {
	// TaskID is the task, as returned by Start.
	TaskID string
	// Cursor is the NextCursor of the previous poll; nil (the first poll) leaves it out.
	Cursor *string
	// Take is the page size, 1 to 100; 0 leaves it out, and Fiber then takes 100.
	Take int
}

// PollResponse is Fiber's answer to a successful poll.
type PollResponse struct {
	// Stats counts the task's people by state.
	Stats OverallStats
	// Done tells that the task finished; Failed and Canceled then tell how.
	Done bool
	// Failed tells that the task finished in failure.
	Failed bool
	// Canceled tells that the task was cancelled.
	Canceled bool
	// Results is this page of finished people, in Fiber's order.
	Results []PersonResult
	// NextCursor is what to pass as the next PollRequest.Cursor, nil when Fiber sent none.
	// Fiber may send null, or repeat the last cursor, when no newer results exist yet: keep
	// the last non-nil cursor.
	NextCursor *string
	// Charge is Fiber's chargeInfo, nil when it sent none.
	Charge *ChargeInfo
	// Warnings are Fiber's warnings about the request.
	Warnings []Warning
}

// OverallStats counts a task's people by state. A count Fiber did not send is 0.
type OverallStats struct {
	// TotalPeopleToFetch is the number of people in the task.
	TotalPeopleToFetch int
	// NumCompleted counts the people finished, with or without data.
	NumCompleted int
	// NumFailed counts the people whose lookup failed (0 from Fiber versions without it).
	NumFailed int
	// NumRemaining counts the people still queued or in progress.
	NumRemaining int
	// NumRejected counts people rejected before queueing, such as an unresolvable URL.
	NumRejected int
	// NumDuplicates counts the duplicates skipped.
	NumDuplicates int
}

// PersonResult is the outcome for one person of a task.
type PersonResult struct {
	// LinkedInURL is the profile URL as given to Start.
	LinkedInURL string
	// NoData tells that Fiber found nothing for this person (its outputs were null or absent);
	// the other fields are then empty.
	NoData bool
	// Emails are the addresses found.
	Emails []Email
	// PhoneNumbers are the numbers found.
	PhoneNumbers []Phone
	// Exhaustive is Fiber's claim that nothing more can be found, nil when it made none.
	Exhaustive *bool
}

// Email is one address found for a person. Type and Status are Fiber's raw strings and may
// hold values added since this was written.
type Email struct {
	// Email is the address.
	Email string
	// Type is "work", "personal", "other", "unknown", "generic" or newer.
	Type string
	// Status is "valid", "risky", "unknown", "invalid" or newer; "" when Fiber sent none.
	Status string
}

// Phone is one number found for a person.
type Phone struct {
	// Number is the phone number as Fiber formats it.
	Number string
	// Type is Fiber's raw string: "mobile", "other", "unknown" or newer.
	Type string
}

// Poll reads the progress of a task and the next page of its results. It is free and changes
// nothing at Fiber, so it is safe to repeat after any error.
func (c *Client) Poll(ctx context.Context, apiKey string, req PollRequest) (*PollResponse, error) {
	wire := &pollRequestWire{APIKey: apiKey, TaskID: req.TaskID, Cursor: req.Cursor, Take: req.Take}
	body, status, err := c.attempt(ctx, EndpointPoll, apiKey, wire)
	if err != nil {
		return nil, err
	}
	resp, err := DecodePollResponse(body)
	if err != nil {
		return nil, undecodable(EndpointPoll, status, "undecodable answer", sanitize(err, apiKey))
	}
	return resp, nil
}
