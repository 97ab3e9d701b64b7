package fiberfake

import (
	"encoding/json"
	"net/http"
)

// This file holds the JSON shapes of Fiber's answers. Field names, nullability
// and the presence of every key follow the published schema: a nil slice
// marshals as null where the schema allows null, and is replaced by an empty
// array where it does not.

// apiWarning is one entry of "warnings": a request field Fiber ignored.
type apiWarning struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// creditAlert is lowCreditAlert and outOfCreditsAlert.
type creditAlert struct {
	GetMoreCreditsURL string  `json:"getMoreCreditsUrl"`
	Message           string  `json:"message"`
	AvailableCredits  float64 `json:"availableCredits"`
}

// chargedNow is chargeInfo with method "charged-now".
type chargedNow struct {
	Method         string       `json:"method"`
	CreditsCharged float64      `json:"creditsCharged"`
	LowCreditAlert *creditAlert `json:"lowCreditAlert"`
}

// chargeFree is chargeInfo with method "free".
type chargeFree struct {
	Method         string       `json:"method"`
	Message        string       `json:"message"`
	LowCreditAlert *creditAlert `json:"lowCreditAlert"`
}

// creditsRefunded is chargeInfo with method "credits-refunded".
type creditsRefunded struct {
	Method          string       `json:"method"`
	CreditsRefunded float64      `json:"creditsRefunded"`
	Message         string       `json:"message"`
	LowCreditAlert  *creditAlert `json:"lowCreditAlert"`
}

// envelope is the body of every 200 answer.
type envelope struct {
	Output     any          `json:"output"`
	ChargeInfo any          `json:"chargeInfo"`
	Warnings   []apiWarning `json:"warnings"` // nil marshals as null
	Advice     []string     `json:"advice"`   // never nil
}

// startOutput is the output of a start answer.
type startOutput struct {
	TaskID               string `json:"taskId"`
	NumPeopleEnqueued    int    `json:"numPeopleEnqueued"`
	NumDuplicatesSkipped int    `json:"numDuplicatesSkipped"`
}

// overallStats counts a task's people. NumCompleted + NumFailed +
// NumRemaining == TotalPeopleToFetch always holds.
type overallStats struct {
	TotalPeopleToFetch int `json:"totalPeopleToFetch"`
	NumCompleted       int `json:"numCompleted"`
	NumFailed          int `json:"numFailed"`
	NumRemaining       int `json:"numRemaining"`
	NumRejected        int `json:"numRejected"`
	NumDuplicates      int `json:"numDuplicates"`
}

// pollOutput is the output of a poll answer.
type pollOutput struct {
	OverallStats overallStats `json:"overallStats"`
	Done         bool         `json:"done"`
	Failed       bool         `json:"failed"`
	Canceled     bool         `json:"canceled"`
	PageResults  []pageResult `json:"pageResults"` // never nil
	NextCursor   *string      `json:"nextCursor"`
}

// linkedinURL is {"value": URL}.
type linkedinURL struct {
	Value string `json:"value"`
}

// resultInputs echoes the person a result is for.
type resultInputs struct {
	LinkedinURL linkedinURL `json:"linkedinUrl"`
}

// pageResult is one person's result; Outputs is nil (null) when nothing was
// found or the fetch failed.
type pageResult struct {
	Inputs  resultInputs    `json:"inputs"`
	Outputs *contactDetails `json:"outputs"`
}

// contactDetails is a found person's data. Both slices are never nil.
type contactDetails struct {
	Emails       []email `json:"emails"`
	PhoneNumbers []phone `json:"phoneNumbers"`
	Exhaustive   bool    `json:"exhaustive"`
}

// email is one found address.
type email struct {
	Email  string `json:"email"`
	Type   string `json:"type"`
	Status string `json:"status"`
}

// phone is one found number.
type phone struct {
	Number string `json:"number"`
	Type   string `json:"type"`
}

// cancelOutput is the output of a cancel answer.
type cancelOutput struct {
	CancelledCount  int     `json:"cancelledCount"`
	CreditsRefunded float64 `json:"creditsRefunded"`
	Message         string  `json:"message"`
}

// errorBody is the body of every non-200 answer.
type errorBody struct {
	Message           string       `json:"message"`
	OutOfCreditsAlert *creditAlert `json:"outOfCreditsAlert,omitempty"`
}

// reply is a complete answer, built before anything is written so that
// faults can cut or drop it after the work was done.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// jsonReply marshals v as the body of an answer with the given status.
func jsonReply(status int, v any) reply {
	body, err := json.Marshal(v)
	if err != nil {
		// Every value passed here is built from plain structs; a failure is a
		// bug in the simulator.
		panic("fiberfake: marshal reply: " + err.Error())
	}
	h := make(http.Header)
	h.Set("Content-Type", "application/json")
	return reply{status: status, header: h, body: append(body, '\n')}
}

// errorReply is a {"message"} answer.
func errorReply(status int, msg string) reply {
	return jsonReply(status, errorBody{Message: msg})
}

// write sends r in full.
func (r reply) write(w http.ResponseWriter) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body)
}
