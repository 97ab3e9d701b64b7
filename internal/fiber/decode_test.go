package fiber_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/fiber"
)

func TestDecodeStartResponse(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    *fiber.StartResponse
		wantErr string
	}{
		{
			name: "documented",
			body: `{"output":{"taskId":"t-1","numPeopleEnqueued":3,"numDuplicatesSkipped":1},
				"chargeInfo":{"method":"charged-now","creditsCharged":15,"lowCreditAlert":{"getMoreCreditsUrl":"https://fiber.ai/buy","message":"low","availableCredits":12.5}},
				"warnings":[{"field":"personDetails.foo","message":"extraneous"}],"advice":["poll every 10s"]}`,
			want: &fiber.StartResponse{
				TaskID: "t-1", NumPeopleEnqueued: 3, NumDuplicatesSkipped: ptr(1),
				Charge: fiber.ChargeInfo{Method: "charged-now", CreditsCharged: ptr(15.0), LowCreditAlert: &fiber.CreditAlert{
					GetMoreCreditsURL: "https://fiber.ai/buy", Message: "low", AvailableCredits: 12.5,
				}},
				Warnings: []fiber.Warning{{Field: "personDetails.foo", Message: "extraneous"}},
				Advice:   []string{"poll every 10s"},
			},
		},
		{
			name: "nulls everywhere optional",
			body: `{"output":{"taskId":"t-1","numPeopleEnqueued":2,"numDuplicatesSkipped":null},
				"chargeInfo":{"method":"free","message":null,"lowCreditAlert":null,"creditsCharged":null},
				"warnings":null,"advice":null}`,
			want: &fiber.StartResponse{TaskID: "t-1", NumPeopleEnqueued: 2, Charge: fiber.ChargeInfo{Method: "free"}},
		},
		{
			name: "null elements skipped",
			body: `{"output":{"taskId":"t-1","numPeopleEnqueued":1},"chargeInfo":null,"warnings":[null,{"field":"f","message":"m"}],"advice":[null,"a"]}`,
			want: &fiber.StartResponse{TaskID: "t-1", NumPeopleEnqueued: 1,
				Warnings: []fiber.Warning{{Field: "f", Message: "m"}}, Advice: []string{"a"}},
		},
		{
			name: "missing optionals",
			body: `{"output":{"taskId":"t-1"}}`,
			want: &fiber.StartResponse{TaskID: "t-1"},
		},
		{
			name: "unknown fields and method",
			body: `{"output":{"taskId":"t-1","numPeopleEnqueued":1,"eta":{"s":3}},"chargeInfo":{"method":"charged-by-the-moon","lunarCredits":[1,2],
				"creditsRefunded":2.5,"message":"hi"},"newTopLevel":true,"advice":[]}`,
			want: &fiber.StartResponse{TaskID: "t-1", NumPeopleEnqueued: 1,
				Charge: fiber.ChargeInfo{Method: "charged-by-the-moon", CreditsRefunded: ptr(2.5), Message: ptr("hi")}},
		},
		{
			name: "integral floats",
			body: `{"output":{"taskId":"t-1","numPeopleEnqueued":5.0,"numDuplicatesSkipped":2e1}}`,
			want: &fiber.StartResponse{TaskID: "t-1", NumPeopleEnqueued: 5, NumDuplicatesSkipped: ptr(20)},
		},
		{name: "fractional count", body: `{"output":{"taskId":"t-1","numPeopleEnqueued":5.5}}`, wantErr: "expected an integer"},
		{name: "huge count", body: `{"output":{"taskId":"t-1","numPeopleEnqueued":1e300}}`, wantErr: "expected an integer"},
		{name: "count as string", body: `{"output":{"taskId":"t-1","numPeopleEnqueued":"5"}}`, wantErr: "expected an integer"},
		{name: "missing taskId", body: `{"output":{"numPeopleEnqueued":5}}`, wantErr: "missing output.taskId"},
		{name: "empty taskId", body: `{"output":{"taskId":""}}`, wantErr: "missing output.taskId"},
		{name: "null output", body: `{"output":null}`, wantErr: "missing output"},
		{name: "empty object", body: `{}`, wantErr: "missing output"},
		{name: "null", body: `null`, wantErr: "missing output"},
		{name: "array", body: `[]`, wantErr: "cannot unmarshal"},
		{name: "not JSON", body: `<html>`, wantErr: "invalid character"},
		{name: "empty", body: ``, wantErr: "unexpected end"},
		{name: "taskId wrong type", body: `{"output":{"taskId":7}}`, wantErr: "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fiber.DecodeStartResponse([]byte(tt.body))
			checkDecode(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestDecodePollResponse(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    *fiber.PollResponse
		wantErr string
	}{
		{
			name: "documented",
			body: `{"output":{"overallStats":{"totalPeopleToFetch":3,"numCompleted":2,"numFailed":0,"numRemaining":1,"numRejected":0,"numDuplicates":0},
				"done":false,"failed":false,"canceled":false,"nextCursor":"c-2","pageResults":[
				{"inputs":{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake"}},"outputs":{
					"emails":[{"email":"jake@acme.com","type":"work","status":"valid"},{"email":"j@gmail.com","type":"personal"}],
					"phoneNumbers":[{"number":"+15551234","type":"mobile"}],"exhaustive":true}},
				{"inputs":{"linkedinUrl":{"value":"https://www.linkedin.com/in/ann"}},"outputs":null}]},
				"chargeInfo":{"method":"free","message":"polling is free","lowCreditAlert":null},"warnings":[]}`,
			want: &fiber.PollResponse{
				Stats:      fiber.OverallStats{TotalPeopleToFetch: 3, NumCompleted: 2, NumRemaining: 1},
				NextCursor: ptr("c-2"),
				Results: []fiber.PersonResult{
					{
						LinkedInURL: "https://www.linkedin.com/in/jake",
						Emails: []fiber.Email{
							{Email: "jake@acme.com", Type: "work", Status: "valid"},
							{Email: "j@gmail.com", Type: "personal"},
						},
						PhoneNumbers: []fiber.Phone{{Number: "+15551234", Type: "mobile"}},
						Exhaustive:   ptr(true),
					},
					{LinkedInURL: "https://www.linkedin.com/in/ann", NoData: true},
				},
				Charge: &fiber.ChargeInfo{Method: "free", Message: ptr("polling is free")},
			},
		},
		{
			name: "unknown enums kept raw",
			body: `{"output":{"done":true,"pageResults":[{"inputs":{"linkedinUrl":{"value":"u"}},"outputs":{
				"emails":[{"email":"e","type":"burner","status":"catch-all","score":0.4}],"phoneNumbers":[{"number":"n","type":"satellite"}]}}]}}`,
			want: &fiber.PollResponse{Done: true, Results: []fiber.PersonResult{{
				LinkedInURL:  "u",
				Emails:       []fiber.Email{{Email: "e", Type: "burner", Status: "catch-all"}},
				PhoneNumbers: []fiber.Phone{{Number: "n", Type: "satellite"}},
			}}},
		},
		{
			name: "nulls",
			body: `{"output":{"overallStats":null,"done":null,"pageResults":[null,{"inputs":null,"outputs":{"emails":null,"phoneNumbers":null,"exhaustive":null}},
				{"inputs":{"linkedinUrl":null},"outputs":{"emails":[null,{"email":"e","type":null,"status":null}],"phoneNumbers":[null]}}],
				"nextCursor":null},"chargeInfo":null,"warnings":null}`,
			want: &fiber.PollResponse{Results: []fiber.PersonResult{
				{},
				{Emails: []fiber.Email{{Email: "e"}}},
			}},
		},
		{
			name: "missing outputs and old stats",
			body: `{"output":{"overallStats":{"totalPeopleToFetch":2,"numCompleted":2.0},"done":true,"failed":true,"pageResults":[{"inputs":{"linkedinUrl":{"value":"u"}}}]}}`,
			want: &fiber.PollResponse{Stats: fiber.OverallStats{TotalPeopleToFetch: 2, NumCompleted: 2}, Done: true, Failed: true,
				Results: []fiber.PersonResult{{LinkedInURL: "u", NoData: true}}},
		},
		{
			name: "cancelled spelling and unknown fields",
			body: `{"output":{"done":true,"cancelled":true,"extra":{"a":[1]}},"meta":1}`,
			want: &fiber.PollResponse{Done: true, Canceled: true},
		},
		{name: "missing output", body: `{"chargeInfo":{"method":"free"}}`, wantErr: "missing output"},
		{name: "fractional stat", body: `{"output":{"overallStats":{"numCompleted":0.5}}}`, wantErr: "expected an integer"},
		{name: "done wrong type", body: `{"output":{"done":"yes"}}`, wantErr: "cannot unmarshal"},
		{name: "truncated", body: `{"output":{"done":true`, wantErr: "unexpected end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fiber.DecodePollResponse([]byte(tt.body))
			checkDecode(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestDecodeCancelResponse(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    *fiber.CancelResponse
		wantErr string
	}{
		{
			name: "documented",
			body: `{"output":{"cancelledCount":4,"creditsRefunded":20,"message":"cancelled 4"},"extra":true}`,
			want: &fiber.CancelResponse{CancelledCount: 4, CreditsRefunded: 20, Message: "cancelled 4"},
		},
		{name: "nulls", body: `{"output":{"cancelledCount":null,"creditsRefunded":null,"message":null}}`, want: &fiber.CancelResponse{}},
		{name: "missing output", body: `{"message":"ok"}`, wantErr: "missing output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fiber.DecodeCancelResponse([]byte(tt.body))
			checkDecode(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func checkDecode[T any](t *testing.T, got *T, err error, want *T, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error = %v, want one containing %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
}

func FuzzDecodeStart(f *testing.F) {
	f.Add(`{"output":{"taskId":"t-1","numPeopleEnqueued":3,"numDuplicatesSkipped":1},"chargeInfo":{"method":"charged-now","creditsCharged":15,` +
		`"lowCreditAlert":{"getMoreCreditsUrl":"https://fiber.ai/buy","message":"low","availableCredits":12.5}},"warnings":[{"field":"f","message":"m"}],"advice":["a"]}`)
	f.Add(`{"output":{"taskId":"t","numPeopleEnqueued":5.0,"numDuplicatesSkipped":null},"chargeInfo":{"method":"x-new","message":null},"warnings":null,"advice":[null]}`)
	f.Add(`{"output":{"taskId":"\u00e9\ud800"},"chargeInfo":null,"x":[{"y":null}]}`)
	f.Add(`{"output":{"taskId":"t","numPeopleEnqueued":-1e18}}`)
	f.Add(`{"output":null}`)
	f.Add(`[1,2]`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, body string) {
		got, err := fiber.DecodeStartResponse([]byte(body))
		if err != nil {
			if got != nil {
				t.Fatalf("non-nil response with error %v", err)
			}
			return
		}
		if got.TaskID == "" {
			t.Fatalf("decoded without a task id: %+v", got)
		}
		again, err := fiber.DecodeStartResponse(refStartResponseJSON(t, got))
		if err != nil {
			t.Fatalf("re-encoded response does not decode: %v", err)
		}
		if diff := cmp.Diff(got, again); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

func FuzzDecodePoll(f *testing.F) {
	f.Add(`{"output":{"overallStats":{"totalPeopleToFetch":3,"numCompleted":2,"numRemaining":1},"done":false,"nextCursor":"c-2","pageResults":[` +
		`{"inputs":{"linkedinUrl":{"value":"u"}},"outputs":{"emails":[{"email":"e","type":"work","status":"valid"}],"phoneNumbers":[{"number":"n","type":"mobile"}],"exhaustive":true}},` +
		`{"inputs":{"linkedinUrl":{"value":"v"}},"outputs":null}]},"chargeInfo":{"method":"free","message":"free"}}`)
	f.Add(`{"output":{"overallStats":null,"pageResults":[null,{"outputs":{"emails":[null,{"status":null}]}}],"nextCursor":null},"warnings":[null]}`)
	f.Add(`{"output":{"done":true,"cancelled":true,"overallStats":{"numFailed":1e2}}}`)
	f.Add(`{"output":{"overallStats":{"numCompleted":0.5}}}`)
	f.Add(`{"output":{}}`)
	f.Add(`{}`)
	f.Add(`"x"`)
	f.Fuzz(func(t *testing.T, body string) {
		got, err := fiber.DecodePollResponse([]byte(body))
		if err != nil {
			if got != nil {
				t.Fatalf("non-nil response with error %v", err)
			}
			return
		}
		for _, r := range got.Results {
			if r.NoData && (r.Emails != nil || r.PhoneNumbers != nil || r.Exhaustive != nil) {
				t.Fatalf("NoData result with data: %+v", r)
			}
		}
		again, err := fiber.DecodePollResponse(refPollResponseJSON(t, got))
		if err != nil {
			t.Fatalf("re-encoded response does not decode: %v", err)
		}
		if diff := cmp.Diff(got, again); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}
