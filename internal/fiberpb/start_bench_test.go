package fiberpb_test

import (
	"encoding/json"
	"fmt"
	"testing"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberpb"
	"github.com/fibergate/fibergate/internal/validation"
)

func bigStart(n int) *cdv1.StartBatchRequest {
	req := &cdv1.StartBatchRequest{PersonDetails: make([]*cdv1.PersonDetails, n)}
	for i := range req.PersonDetails {
		req.PersonDetails[i] = &cdv1.PersonDetails{LinkedinUrl: &cdv1.LinkedInUrl{
			Value: fmt.Sprintf("https://www.linkedin.com/in/some-person-%d", i),
		}}
	}
	return req
}

// BenchmarkStartBatchToFiberJSON measures what fibergate adds to a 2000-person start before it
// goes upstream: the server's validation of the contract's rules (2000 URLs) plus the
// translation to a fiber.StartRequest. The fiber package's BenchmarkStartBody measures its
// JSON encoding; internal/validation's BenchmarkValidateStart compares the validation with
// protovalidate's alone.
func BenchmarkStartBatchToFiberJSON(b *testing.B) {
	v, err := validation.New()
	if err != nil {
		b.Fatal(err)
	}
	req := bigStart(2000)
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Validate(req); err != nil {
			b.Fatal(err)
		}
		fiberpb.StartRequestToFiber(req)
	}
}

// BenchmarkTranslateOnly is the translation without validation.
func BenchmarkTranslateOnly(b *testing.B) {
	req := bigStart(2000)
	b.ReportAllocs()
	for b.Loop() {
		fiberpb.StartRequestToFiber(req)
	}
}

// BenchmarkPlainEncodingJSON is the baseline: encoding/json marshalling of the same data in
// Fiber's shape, with no validation.
func BenchmarkPlainEncodingJSON(b *testing.B) {
	type url struct {
		Value string `json:"value"`
	}
	type person struct {
		LinkedinURL url `json:"linkedinUrl"`
	}
	type body struct {
		APIKey        string   `json:"apiKey"`
		PersonDetails []person `json:"personDetails"`
	}
	req := bigStart(2000)
	in := body{APIKey: "sk-bench", PersonDetails: make([]person, len(req.PersonDetails))}
	for i, p := range req.PersonDetails {
		in.PersonDetails[i].LinkedinURL.Value = p.GetLinkedinUrl().GetValue()
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		out, err := json.Marshal(in)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.SetBytes(int64(n))
}
