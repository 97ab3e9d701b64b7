package fiber

import (
	"encoding/json"
	"errors"
	"fmt"
)

// DecodeStartResponse decodes the body of a 2xx answer to a start. It tolerates unknown
// fields, unknown enum values, null or missing optional values and integral floats where
// integers are expected; it fails on malformed JSON, on a value of the wrong JSON type, and
// when output.taskId is missing or empty. It is what Start uses, exported for tests and tools.
func DecodeStartResponse(body []byte) (*StartResponse, error) {
	var w startResponseWire
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("decode start response: %w", err)
	}
	if w.Output == nil {
		return nil, errors.New("decode start response: missing output")
	}
	if w.Output.TaskID == "" {
		return nil, errors.New("decode start response: missing output.taskId")
	}
	resp := &StartResponse{
		TaskID:            w.Output.TaskID,
		NumPeopleEnqueued: int(w.Output.NumPeopleEnqueued),
		Warnings:          toWarnings(w.Warnings),
	}
	if n := w.Output.NumDuplicatesSkipped; n != nil {
		v := int(*n)
		resp.NumDuplicatesSkipped = &v
	}
	if w.ChargeInfo != nil {
		resp.Charge = w.ChargeInfo.toChargeInfo()
	}
	for _, a := range w.Advice {
		if a != nil {
			resp.Advice = append(resp.Advice, *a)
		}
	}
	return resp, nil
}

// DecodePollResponse decodes the body of a 2xx answer to a poll, as tolerantly as
// DecodeStartResponse; it fails on malformed JSON, on a value of the wrong JSON type, and
// when output is missing.
func DecodePollResponse(body []byte) (*PollResponse, error) {
	var w pollResponseWire
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("decode poll response: %w", err)
	}
	if w.Output == nil {
		return nil, errors.New("decode poll response: missing output")
	}
	o := w.Output
	resp := &PollResponse{
		Stats: OverallStats{
			TotalPeopleToFetch: int(o.OverallStats.TotalPeopleToFetch),
			NumCompleted:       int(o.OverallStats.NumCompleted),
			NumFailed:          int(o.OverallStats.NumFailed),
			NumRemaining:       int(o.OverallStats.NumRemaining),
			NumRejected:        int(o.OverallStats.NumRejected),
			NumDuplicates:      int(o.OverallStats.NumDuplicates),
		},
		Done:       o.Done,
		Failed:     o.Failed,
		Canceled:   o.Canceled || o.Cancelled,
		NextCursor: o.NextCursor,
		Warnings:   toWarnings(w.Warnings),
	}
	for _, p := range o.PageResults {
		if p != nil {
			resp.Results = append(resp.Results, p.toResult())
		}
	}
	if w.ChargeInfo != nil {
		ci := w.ChargeInfo.toChargeInfo()
		resp.Charge = &ci
	}
	return resp, nil
}

// DecodeCancelResponse decodes the body of a 2xx answer to a cancel, as tolerantly as
// DecodeStartResponse; it fails on malformed JSON, on a value of the wrong JSON type, and
// when output is missing.
func DecodeCancelResponse(body []byte) (*CancelResponse, error) {
	var w cancelResponseWire
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("decode cancel response: %w", err)
	}
	if w.Output == nil {
		return nil, errors.New("decode cancel response: missing output")
	}
	return &CancelResponse{
		CancelledCount:  int(w.Output.CancelledCount),
		CreditsRefunded: w.Output.CreditsRefunded,
		Message:         w.Output.Message,
	}, nil
}

func (w *chargeInfoWire) toChargeInfo() ChargeInfo {
	ci := ChargeInfo{
		Method:          w.Method,
		CreditsCharged:  w.CreditsCharged,
		CreditsRefunded: w.CreditsRefunded,
		Message:         w.Message,
	}
	if w.LowCreditAlert != nil {
		a := w.LowCreditAlert.toAlert()
		ci.LowCreditAlert = &a
	}
	return ci
}

func (w *creditAlertWire) toAlert() CreditAlert {
	return CreditAlert{
		GetMoreCreditsURL: w.GetMoreCreditsURL,
		Message:           w.Message,
		AvailableCredits:  w.AvailableCredits,
	}
}

func (w *personResultWire) toResult() PersonResult {
	r := PersonResult{LinkedInURL: w.Inputs.LinkedinURL.Value}
	if w.Outputs == nil {
		r.NoData = true
		return r
	}
	r.Exhaustive = w.Outputs.Exhaustive
	for _, e := range w.Outputs.Emails {
		if e != nil {
			r.Emails = append(r.Emails, Email{Email: e.Email, Type: e.Type, Status: e.Status})
		}
	}
	for _, p := range w.Outputs.PhoneNumbers {
		if p != nil {
			r.PhoneNumbers = append(r.PhoneNumbers, Phone{Number: p.Number, Type: p.Type})
		}
	}
	return r
}

// toWarnings converts warnings, skipping null elements; nil when there are none.
func toWarnings(ws []*warningWire) []Warning {
	var out []Warning
	for _, w := range ws {
		if w != nil {
			out = append(out, Warning{Field: w.Field, Message: w.Message})
		}
	}
	return out
}
