package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

func people(n int, url func(i int) string) []*cdv1.PersonDetails {
	out := make([]*cdv1.PersonDetails, n)
	for i := range out {
		out[i] = &cdv1.PersonDetails{LinkedinUrl: &cdv1.LinkedInUrl{Value: url(i)}}
	}
	return out
}

func profile(i int) string { return fmt.Sprintf("https://www.linkedin.com/in/person-%d", i) }

func withURL(u string) *cdv1.StartBatchRequest {
	return &cdv1.StartBatchRequest{PersonDetails: people(1, func(int) string { return u })}
}

func fieldViolations(st *status.Status) []string {
	var out []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField())
			}
		}
	}
	return out
}

func TestBadStartBatchInputIsRejectedBeforeFiber(t *testing.T) {
	sim, url := newUpstream(t)
	p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url)
	client := p.dial(t)
	f := false

	// Each case is sent over gRPC and, as protojson, over REST.
	tests := []struct {
		name  string
		req   *cdv1.StartBatchRequest
		field string
	}{
		{"no people", &cdv1.StartBatchRequest{}, "personDetails"},
		{"2001 people", &cdv1.StartBatchRequest{PersonDetails: people(2001, profile)}, "personDetails"},
		{"missing linkedin_url", &cdv1.StartBatchRequest{PersonDetails: []*cdv1.PersonDetails{{}}}, "personDetails[0].linkedinUrl"},
		{"empty url", withURL(""), "personDetails[0].linkedinUrl.value"},
		{"not linkedin", withURL("https://www.example.com/in/jake"), "personDetails[0].linkedinUrl.value"},
		{"company page", withURL("https://www.linkedin.com/company/fiber"), "personDetails[0].linkedinUrl.value"},
		{"no slug", withURL("https://www.linkedin.com/in/"), "personDetails[0].linkedinUrl.value"},
		{"upper case (Fiber's pattern is lower case)", withURL("HTTPS://WWW.LINKEDIN.COM/IN/JAKE"), "personDetails[0].linkedinUrl.value"},
		{"url too long", withURL("https://www.linkedin.com/in/" + strings.Repeat("a", 2100)), "personDetails[0].linkedinUrl.value"},
		{"bad url among good ones", &cdv1.StartBatchRequest{PersonDetails: people(5, func(i int) string {
			if i == 3 {
				return "linkedin.com/jake"
			}
			return profile(i)
		})}, "personDetails[3].linkedinUrl.value"},
		{"request_id not a UUID", func() *cdv1.StartBatchRequest {
			r := oneStart()
			r.RequestId = "retry-1"
			return r
		}(), "requestId"},
		{"nothing requested", func() *cdv1.StartBatchRequest {
			r := oneStart()
			r.EnrichmentTypes = &cdv1.EnrichmentTypes{GetWorkEmails: &f, GetPersonalEmails: &f, GetPhoneNumbers: &f}
			return r
		}(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.StartBatch(testContext(t), tt.req)
			checkInvalid(t, "grpc", status.Convert(err), tt.field)

			body, err := protojson.Marshal(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			code, _, out := p.rest(t, http.MethodPost, "/v1/contact-details/batch/start", body, nil)
			if code != http.StatusBadRequest {
				t.Errorf("REST status %d, want 400: %.300s", code, out)
			}
			checkInvalid(t, "rest", restStatus(t, out), tt.field)
		})
	}
	if n := sim.Calls(fiberfake.EndpointStart); n != 0 {
		t.Errorf("the simulator counted %d start calls for bad input, want 0", n)
	}
}

func TestWrongJSONTypesOverRESTNameTheField(t *testing.T) {
	sim, url := newUpstream(t)
	p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url)
	tests := []struct {
		name, body, field string
	}{
		{"people not an array", `{"personDetails": "jake"}`, "personDetails"},
		{"person not an object", `{"personDetails": ["https://www.linkedin.com/in/jake"]}`, "personDetails[0]"},
		{"url a string not an object", `{"personDetails": [{"linkedinUrl": "https://www.linkedin.com/in/jake"}]}`, "personDetails[0].linkedinUrl"},
		{"url value a number", `{"personDetails": [{"linkedinUrl": {"value": 42}}]}`, "personDetails[0].linkedinUrl.value"},
		{"flag a string", `{"personDetails": [{"linkedinUrl": {"value": "https://www.linkedin.com/in/jake"}}], "enrichmentTypes": {"getWorkEmails": "yes"}}`, "enrichmentTypes.getWorkEmails"},
		{"api key a number", `{"apiKey": 12345, "personDetails": []}`, "apiKey"},
		{"body an array", `[1, 2]`, ""},
		{"not JSON", `{"personDetails": [`, ""},
		{"two documents", `{} {}`, ""},
		{"proto names work too, with wrong types", `{"person_details": [{"linkedin_url": {"value": true}}]}`, "person_details[0].linkedin_url.value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, out := p.rest(t, http.MethodPost, "/v1/contact-details/batch/start", []byte(tt.body), nil)
			if code != http.StatusBadRequest {
				t.Errorf("status %d, want 400: %s", code, out)
			}
			checkInvalid(t, "rest", restStatus(t, out), tt.field)
		})
	}
	if n := sim.Calls(fiberfake.EndpointStart); n != 0 {
		t.Errorf("the simulator counted %d start calls for bad input, want 0", n)
	}
}

// checkInvalid asserts INVALID_ARGUMENT with reason VALIDATION_FAILED and, when field is not
// empty, a BadRequest violation naming it.
func checkInvalid(t *testing.T, transport string, st *status.Status, field string) {
	t.Helper()
	if st.Code() != codes.InvalidArgument {
		t.Errorf("%s: code %v, want INVALID_ARGUMENT (%s)", transport, st.Code(), st.Message())
		return
	}
	if ei := errorInfo(st); ei.GetReason() != "VALIDATION_FAILED" {
		t.Errorf("%s: ErrorInfo %v, want reason VALIDATION_FAILED", transport, ei)
	}
	got := fieldViolations(st)
	if len(got) == 0 {
		t.Errorf("%s: no BadRequest field violations (%s)", transport, st.Message())
		return
	}
	if field != "" && got[0] != field {
		t.Errorf("%s: violation names %q, want %q (%s)", transport, got[0], field, st.Message())
	}
	if field != "" && !strings.Contains(st.Message(), field) {
		t.Errorf("%s: message %q does not name %q", transport, st.Message(), field)
	}
}

func TestOversizedRESTBodyIs413(t *testing.T) {
	sim, url := newUpstream(t)
	p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url)
	body := []byte(`{"apiKey":"` + strings.Repeat("k", 7<<20) + `"}`)
	code, _, out := p.rest(t, http.MethodPost, "/v1/contact-details/batch/start", body, nil)
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413: %.200s", code, out)
	}
	if st := restStatus(t, out); errorInfo(st).GetReason() != "REQUEST_TOO_LARGE" {
		t.Errorf("reason %v, want REQUEST_TOO_LARGE", errorInfo(st))
	}
	if n := sim.Calls(fiberfake.EndpointStart); n != 0 {
		t.Errorf("%d upstream calls, want 0", n)
	}
	// The server is still healthy.
	if code, _, _ := p.rest(t, http.MethodGet, "/healthz", nil, nil); code != http.StatusOK {
		t.Errorf("healthz after a huge body: %d", code)
	}
}
