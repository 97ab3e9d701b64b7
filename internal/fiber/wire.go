package fiber

import (
	"errors"
	"math"
	"strconv"
)

// The wire structs below mirror Fiber's request and response bodies for encoding/json.
//
// Requests are written by json.Marshal, with its usual escaping ('<', '>' and '&' as \u003c,
// \u003e and \u0026, invalid UTF-8 as U+FFFD), in the field order of the structs.
//
// Responses are read leniently on purpose: unknown fields are ignored, enums are plain
// strings, optional values are pointers or tolerate null, and null array elements are pointers
// that decoding skips.

// startRequestWire is the body of a start. PersonDetails is never nil, so that it is sent as
// an array ("[]" without URLs); nil pointers are left out.
type startRequestWire struct {
	APIKey          string               `json:"apiKey"`
	PersonDetails   []personDetailsWire  `json:"personDetails"`
	EnrichmentTypes *enrichmentTypesWire `json:"enrichmentTypes,omitempty"`
}

type personDetailsWire struct {
	LinkedinURL struct {
		Value string `json:"value"`
	} `json:"linkedinUrl"`
}

type enrichmentTypesWire struct {
	GetWorkEmails     *bool `json:"getWorkEmails,omitempty"`
	GetPersonalEmails *bool `json:"getPersonalEmails,omitempty"`
	GetPhoneNumbers   *bool `json:"getPhoneNumbers,omitempty"`
}

// newStartRequestWire returns the body of a start of req billed to apiKey.
func newStartRequestWire(apiKey string, req StartRequest) *startRequestWire {
	w := &startRequestWire{APIKey: apiKey, PersonDetails: make([]personDetailsWire, len(req.LinkedInURLs))}
	for i, u := range req.LinkedInURLs {
		w.PersonDetails[i].LinkedinURL.Value = u
	}
	if et := req.EnrichmentTypes; et != nil {
		w.EnrichmentTypes = &enrichmentTypesWire{
			GetWorkEmails:     et.WorkEmails,
			GetPersonalEmails: et.PersonalEmails,
			GetPhoneNumbers:   et.PhoneNumbers,
		}
	}
	return w
}

// pollRequestWire is the body of a poll: cursor is left out when nil and take when 0.
type pollRequestWire struct {
	APIKey string  `json:"apiKey"`
	TaskID string  `json:"taskId"`
	Cursor *string `json:"cursor,omitempty"`
	Take   int     `json:"take,omitempty"`
}

// cancelRequestWire is the body of a cancel.
type cancelRequestWire struct {
	APIKey string `json:"apiKey"`
	TaskID string `json:"taskId"`
}

// startResponseWire is the 200 body of a start.
type startResponseWire struct {
	Output     *startOutputWire `json:"output"`
	ChargeInfo *chargeInfoWire  `json:"chargeInfo"`
	Warnings   []*warningWire   `json:"warnings"`
	Advice     []*string        `json:"advice"`
}

type startOutputWire struct {
	TaskID               string   `json:"taskId"`
	NumPeopleEnqueued    jsonInt  `json:"numPeopleEnqueued"`
	NumDuplicatesSkipped *jsonInt `json:"numDuplicatesSkipped"`
}

// chargeInfoWire is the union of the five chargeInfo shapes, told apart by Method.
type chargeInfoWire struct {
	Method          string           `json:"method"`
	CreditsCharged  *float64         `json:"creditsCharged"`
	CreditsRefunded *float64         `json:"creditsRefunded"`
	Message         *string          `json:"message"`
	LowCreditAlert  *creditAlertWire `json:"lowCreditAlert"`
}

type creditAlertWire struct {
	GetMoreCreditsURL string  `json:"getMoreCreditsUrl"`
	Message           string  `json:"message"`
	AvailableCredits  float64 `json:"availableCredits"`
}

type warningWire struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// pollResponseWire is the 200 body of a poll.
type pollResponseWire struct {
	Output     *pollOutputWire `json:"output"`
	ChargeInfo *chargeInfoWire `json:"chargeInfo"`
	Warnings   []*warningWire  `json:"warnings"`
}

type pollOutputWire struct {
	OverallStats overallStatsWire    `json:"overallStats"`
	Done         bool                `json:"done"`
	Failed       bool                `json:"failed"`
	Canceled     bool                `json:"canceled"`
	Cancelled    bool                `json:"cancelled"` // the British spelling, in case it shows up
	PageResults  []*personResultWire `json:"pageResults"`
	NextCursor   *string             `json:"nextCursor"`
}

type overallStatsWire struct {
	TotalPeopleToFetch jsonInt `json:"totalPeopleToFetch"`
	NumCompleted       jsonInt `json:"numCompleted"`
	NumFailed          jsonInt `json:"numFailed"`
	NumRemaining       jsonInt `json:"numRemaining"`
	NumRejected        jsonInt `json:"numRejected"`
	NumDuplicates      jsonInt `json:"numDuplicates"`
}

type personResultWire struct {
	Inputs struct {
		LinkedinURL struct {
			Value string `json:"value"`
		} `json:"linkedinUrl"`
	} `json:"inputs"`
	Outputs *personOutputsWire `json:"outputs"`
}

type personOutputsWire struct {
	Emails       []*emailWire `json:"emails"`
	PhoneNumbers []*phoneWire `json:"phoneNumbers"`
	Exhaustive   *bool        `json:"exhaustive"`
}

type emailWire struct {
	Email  string `json:"email"`
	Type   string `json:"type"`
	Status string `json:"status"`
}

type phoneWire struct {
	Number string `json:"number"`
	Type   string `json:"type"`
}

// cancelResponseWire is the 200 body of a cancel.
type cancelResponseWire struct {
	Output *struct {
		CancelledCount  jsonInt `json:"cancelledCount"`
		CreditsRefunded float64 `json:"creditsRefunded"`
		Message         string  `json:"message"`
	} `json:"output"`
}

// jsonInt is an int that also accepts an integral JSON number written as a float (5.0, 5e2)
// and leaves the value unchanged on null.
type jsonInt int

// UnmarshalJSON implements json.Unmarshaler.
func (n *jsonInt) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if v, err := strconv.ParseInt(s, 10, strconv.IntSize); err == nil {
		*n = jsonInt(v)
		return nil
	}
	// encoding/json hands over one valid JSON value, so ParseFloat sees JSON number syntax
	// only (no hex, no NaN); a string, bool, array or object fails here.
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f < math.MinInt || f >= -math.MinInt {
		return errors.New("expected an integer")
	}
	*n = jsonInt(f)
	return nil
}
