package fiber_test

import (
	"encoding/json"
	"testing"

	"github.com/fibergate/fibergate/internal/fiber"
)

// The structs below spell Fiber's JSON with encoding/json tags, independently of the package's
// own wire code: the reference the request bodies are held to, and the encoder the decoder
// fuzz targets round-trip through.

type refStartBody struct {
	APIKey          string          `json:"apiKey"`
	PersonDetails   []refPerson     `json:"personDetails"`
	EnrichmentTypes *refEnrichments `json:"enrichmentTypes,omitempty"`
}

type refPerson struct {
	LinkedinURL refValue `json:"linkedinUrl"`
}

type refValue struct {
	Value string `json:"value"`
}

type refEnrichments struct {
	GetWorkEmails     *bool `json:"getWorkEmails,omitempty"`
	GetPersonalEmails *bool `json:"getPersonalEmails,omitempty"`
	GetPhoneNumbers   *bool `json:"getPhoneNumbers,omitempty"`
}

// refStartJSON is encoding/json's rendering of the start body for apiKey and req.
func refStartJSON(t testing.TB, apiKey string, req fiber.StartRequest) []byte {
	t.Helper()
	body := refStartBody{APIKey: apiKey, PersonDetails: make([]refPerson, len(req.LinkedInURLs))}
	for i, u := range req.LinkedInURLs {
		body.PersonDetails[i].LinkedinURL.Value = u
	}
	if et := req.EnrichmentTypes; et != nil {
		body.EnrichmentTypes = &refEnrichments{
			GetWorkEmails:     et.WorkEmails,
			GetPersonalEmails: et.PersonalEmails,
			GetPhoneNumbers:   et.PhoneNumbers,
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return b
}

type refCharge struct {
	Method          string          `json:"method"`
	CreditsCharged  *float64        `json:"creditsCharged,omitempty"`
	CreditsRefunded *float64        `json:"creditsRefunded,omitempty"`
	Message         *string         `json:"message,omitempty"`
	LowCreditAlert  *refCreditAlert `json:"lowCreditAlert"`
}

type refCreditAlert struct {
	GetMoreCreditsURL string  `json:"getMoreCreditsUrl"`
	Message           string  `json:"message"`
	AvailableCredits  float64 `json:"availableCredits"`
}

type refWarning struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func refChargeOf(ci fiber.ChargeInfo) *refCharge {
	rc := &refCharge{Method: ci.Method, CreditsCharged: ci.CreditsCharged, CreditsRefunded: ci.CreditsRefunded, Message: ci.Message}
	if a := ci.LowCreditAlert; a != nil {
		rc.LowCreditAlert = &refCreditAlert{GetMoreCreditsURL: a.GetMoreCreditsURL, Message: a.Message, AvailableCredits: a.AvailableCredits}
	}
	return rc
}

func refWarningsOf(ws []fiber.Warning) []refWarning {
	var out []refWarning
	for _, w := range ws {
		out = append(out, refWarning(w))
	}
	return out
}

// refStartResponseJSON renders r as Fiber would send it.
func refStartResponseJSON(t testing.TB, r *fiber.StartResponse) []byte {
	t.Helper()
	body := map[string]any{
		"output": map[string]any{
			"taskId":               r.TaskID,
			"numPeopleEnqueued":    r.NumPeopleEnqueued,
			"numDuplicatesSkipped": r.NumDuplicatesSkipped,
		},
		"chargeInfo": refChargeOf(r.Charge),
		"warnings":   refWarningsOf(r.Warnings),
		"advice":     r.Advice,
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return b
}

// refPollResponseJSON renders r as Fiber would send it.
func refPollResponseJSON(t testing.TB, r *fiber.PollResponse) []byte {
	t.Helper()
	results := make([]any, 0, len(r.Results))
	for _, p := range r.Results {
		item := map[string]any{"inputs": map[string]any{"linkedinUrl": refValue{p.LinkedInURL}}}
		if p.NoData {
			item["outputs"] = nil
		} else {
			emails := make([]map[string]any, 0, len(p.Emails))
			for _, e := range p.Emails {
				emails = append(emails, map[string]any{"email": e.Email, "type": e.Type, "status": e.Status})
			}
			phones := make([]map[string]any, 0, len(p.PhoneNumbers))
			for _, ph := range p.PhoneNumbers {
				phones = append(phones, map[string]any{"number": ph.Number, "type": ph.Type})
			}
			item["outputs"] = map[string]any{"emails": emails, "phoneNumbers": phones, "exhaustive": p.Exhaustive}
		}
		results = append(results, item)
	}
	s := r.Stats
	body := map[string]any{
		"output": map[string]any{
			"overallStats": map[string]int{
				"totalPeopleToFetch": s.TotalPeopleToFetch, "numCompleted": s.NumCompleted,
				"numFailed": s.NumFailed, "numRemaining": s.NumRemaining,
				"numRejected": s.NumRejected, "numDuplicates": s.NumDuplicates,
			},
			"done": r.Done, "failed": r.Failed, "canceled": r.Canceled,
			"pageResults": results,
			"nextCursor":  r.NextCursor,
		},
		"warnings": refWarningsOf(r.Warnings),
	}
	if r.Charge != nil {
		body["chargeInfo"] = refChargeOf(*r.Charge)
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return b
}
