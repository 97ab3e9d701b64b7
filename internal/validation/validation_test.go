package validation

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

func newValidators(tb testing.TB) (*Validator, protovalidate.Validator) {
	tb.Helper()
	v, err := New()
	if err != nil {
		tb.Fatal(err)
	}
	pv, err := protovalidate.New()
	if err != nil {
		tb.Fatal(err)
	}
	return v, pv
}

func startOf(urls ...string) *cdv1.StartBatchRequest {
	req := &cdv1.StartBatchRequest{}
	for _, u := range urls {
		req.PersonDetails = append(req.PersonDetails, &cdv1.PersonDetails{LinkedinUrl: &cdv1.LinkedInUrl{Value: u}})
	}
	return req
}

// TestShortcutSkipsURLRules: the shortcut's filter leaves the URL rules out (so the shortcut
// saves their cost), and Validate does not take it for a request with an invalid URL.
func TestShortcutSkipsURLRules(t *testing.T) {
	v, _ := newValidators(t)
	if v.skipURLs == nil {
		t.Fatal("shortcut off")
	}
	req := startOf("https://www.linkedin.com/in/jake", "https://www.example.com/in/jake")
	withoutURL := proto.CloneOf(req)
	withoutURL.PersonDetails[1].LinkedinUrl = nil
	for _, r := range []*cdv1.StartBatchRequest{req, withoutURL} {
		if err := v.pv.Validate(r, v.skipURLs); err != nil {
			t.Errorf("with the filter: %v, want the URL rules skipped", err)
		}
	}
	var ve *protovalidate.ValidationError
	if err := v.Validate(req); !errors.As(err, &ve) || len(ve.Violations) != 1 ||
		protovalidate.FieldPathString(ve.Violations[0].Proto.GetField()) != "person_details[1].linkedin_url.value" {
		t.Errorf("Validate = %v, want the violation of person_details[1].linkedin_url.value", err)
	}
}

// sameResult fails tb unless got and want are the same validation result.
func sameResult(tb testing.TB, what string, got, want error) {
	tb.Helper()
	if (got == nil) != (want == nil) {
		tb.Fatalf("%s: Validate = %v, protovalidate = %v", what, got, want)
	}
	if got == nil {
		return
	}
	var g, w *protovalidate.ValidationError
	if !errors.As(got, &g) || !errors.As(want, &w) {
		tb.Fatalf("%s: Validate = %v, protovalidate = %v: want validation errors", what, got, want)
	}
	if !proto.Equal(g.ToProto(), w.ToProto()) || got.Error() != want.Error() {
		tb.Fatalf("%s: Validate = %s, protovalidate = %s", what, summary(g), summary(w))
	}
}

// summary describes e briefly: how many violations, and the first.
func summary(e *protovalidate.ValidationError) string {
	if len(e.Violations) == 0 {
		return "no violations"
	}
	return fmt.Sprintf("%d violations, the first %v", len(e.Violations), e.Violations[0].Proto)
}

// TestValidatorSameAsProtovalidate: Validate's result is protovalidate's, violations and all,
// on requests of every kind, with and without the shortcut.
func TestValidatorSameAsProtovalidate(t *testing.T) {
	v, pv := newValidators(t)
	rng := rand.New(rand.NewPCG(13, 5))
	yes, no := true, false
	urls := append([]string{"https://www.linkedin.com/in/jake"}, urlSeeds...)
	person := func() *cdv1.PersonDetails {
		switch rng.IntN(10) {
		case 0:
			return &cdv1.PersonDetails{}
		case 1, 2:
			return &cdv1.PersonDetails{LinkedinUrl: &cdv1.LinkedInUrl{Value: urls[rng.IntN(len(urls))]}}
		default:
			return &cdv1.PersonDetails{LinkedinUrl: &cdv1.LinkedInUrl{Value: fmt.Sprintf("https://www.linkedin.com/in/p-%d", rng.IntN(1000))}}
		}
	}
	for i := range 3000 {
		req := &cdv1.StartBatchRequest{}
		n := rng.IntN(6)
		if i%500 == 0 { // at and past the limit of 2000, sometimes
			n = 2000 + rng.IntN(2)
		}
		for range n {
			req.PersonDetails = append(req.PersonDetails, person())
		}
		if rng.IntN(4) == 0 {
			req.EnrichmentTypes = &cdv1.EnrichmentTypes{GetWorkEmails: &no, GetPersonalEmails: &no}
			if rng.IntN(2) == 0 {
				req.EnrichmentTypes.GetPhoneNumbers = &no
			} else {
				req.EnrichmentTypes.GetPhoneNumbers = &yes
			}
		}
		switch rng.IntN(6) {
		case 0:
			req.RequestId = "0b0e6f2a-3c3d-4f43-9a4b-8f0d3b7f6a11"
		case 1:
			req.RequestId = "not-a-uuid"
		}
		if rng.IntN(20) == 0 {
			req.ApiKey = strings.Repeat("k", 513)
		}
		sameResult(t, fmt.Sprintf("request %d", i), v.Validate(req), pv.Validate(req))
	}
	// Large requests whose URLs are all valid: the shortcut is taken, and the rules of the
	// request and of the list still apply.
	valid := make([]string, 2001)
	for i := range valid {
		valid[i] = fmt.Sprintf("https://www.linkedin.com/in/p-%d", i)
	}
	allFalse := startOf(valid[:2000]...)
	allFalse.EnrichmentTypes = &cdv1.EnrichmentTypes{GetWorkEmails: &no, GetPersonalEmails: &no, GetPhoneNumbers: &no}
	for name, req := range map[string]*cdv1.StartBatchRequest{
		"2000 people": startOf(valid[:2000]...), "2001 people": startOf(valid...), "no enrichment type": allFalse,
		"no people": startOf(),
	} {
		sameResult(t, name, v.Validate(req), pv.Validate(req))
	}
	// The contract's other messages go to protovalidate unchanged.
	for _, m := range []proto.Message{
		&cdv1.GetTaskRequest{}, &cdv1.GetTaskRequest{TaskId: "t-1"}, &cdv1.ListTasksRequest{PageSize: 101},
		&cdv1.LinkedInUrl{Value: "https://www.example.com/in/jake"}, &cdv1.PersonDetails{},
	} {
		sameResult(t, fmt.Sprintf("%T", m), v.Validate(m), pv.Validate(m))
	}
}

// BenchmarkValidateStart validates a 2000-person start: with the shortcut (Validator) and
// with protovalidate alone.
func BenchmarkValidateStart(b *testing.B) {
	v, pv := newValidators(b)
	urls := make([]string, 2000)
	for i := range urls {
		urls[i] = fmt.Sprintf("https://www.linkedin.com/in/some-person-%d", i)
	}
	req := startOf(urls...)
	for _, bb := range []struct {
		name string
		v    protovalidate.Validator
	}{{"validation", v}, {"protovalidate", pv}} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bb.v.Validate(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
