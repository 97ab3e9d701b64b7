package fiber_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/fiber"
)

func TestStatusKinds(t *testing.T) {
	tests := []struct {
		status int
		want   fiber.ErrorKind
	}{
		{400, fiber.KindBadRequest},
		{422, fiber.KindBadRequest},
		{401, fiber.KindUnauthenticated},
		{402, fiber.KindOutOfCredits},
		{403, fiber.KindForbidden},
		{404, fiber.KindNotFound},
		{429, fiber.KindRateLimited},
		{500, fiber.KindUnavailable},
		{502, fiber.KindUnavailable},
		{503, fiber.KindUnavailable},
		{504, fiber.KindUnavailable},
		{301, fiber.KindProtocol},
		{302, fiber.KindProtocol},
		{307, fiber.KindProtocol},
		{405, fiber.KindProtocol},
		{409, fiber.KindProtocol},
		{418, fiber.KindProtocol},
		{600, fiber.KindProtocol},
	}
	for _, ep := range allEndpoints() {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%d", ep, tt.status), func(t *testing.T) {
				// Fiber's message echoes the key, as a careless server might.
				body := `{"message":"bad things happened to key ` + testKey + `","code":"X","details":{"k":[1]}}`
				c, _ := newTestClient(t, jsonHandler(tt.status, body))
				err := call(testContext(t), c, ep)
				var fe *fiber.Error
				if !errors.As(err, &fe) {
					t.Fatalf("got %v (%T), want an *Error", err, err)
				}
				kind := tt.want
				if kind == fiber.KindUnavailable && ep == fiber.EndpointStart {
					kind = fiber.KindOutcomeUnknown // a 5xx may come after the task was created
				}
				want := &fiber.Error{
					Kind: kind, Endpoint: ep, StatusCode: tt.status,
					Message: "bad things happened to key [REDACTED]",
				}
				if diff := cmp.Diff(want, fe); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
				if fiber.KindOf(err) != kind {
					t.Errorf("KindOf = %v, want %v", fiber.KindOf(err), kind)
				}
				assertNoKey(t, err)
				wantText := fmt.Sprintf("fiber %s: %s (HTTP %d): bad things happened to key [REDACTED]", ep, kind, tt.status)
				if err.Error() != wantText {
					t.Errorf("Error() = %q, want %q", err.Error(), wantText)
				}
			})
		}
	}
}

func TestErrorBodies(t *testing.T) {
	long := strings.Repeat("é", 1000) + testKey
	tests := []struct {
		name   string
		status int
		body   string
		want   *fiber.Error
	}{
		{
			name: "out of credits alert", status: 402,
			body: `{"message":"no credits","outOfCreditsAlert":{"getMoreCreditsUrl":"https://fiber.ai/buy?k=` + testKey + `","message":"top up ` + testKey + `","availableCredits":0.5,"x":1}}`,
			want: &fiber.Error{Kind: fiber.KindOutOfCredits, Message: "no credits", OutOfCredits: &fiber.CreditAlert{
				GetMoreCreditsURL: "https://fiber.ai/buy?k=[REDACTED]", Message: "top up [REDACTED]", AvailableCredits: 0.5,
			}},
		},
		{name: "402 null alert", status: 402, body: `{"message":"no credits","outOfCreditsAlert":null}`,
			want: &fiber.Error{Kind: fiber.KindOutOfCredits, Message: "no credits"}},
		{name: "html body", status: 502, body: `<html><body>Bad Gateway ` + testKey + `</body></html>`,
			want: &fiber.Error{Kind: fiber.KindUnavailable, Message: "Bad Gateway"}},
		{name: "empty body", status: 404, body: ``, want: &fiber.Error{Kind: fiber.KindNotFound, Message: "Not Found"}},
		{name: "message not a string", status: 400, body: `{"message":{"text":"x"}}`,
			want: &fiber.Error{Kind: fiber.KindBadRequest, Message: "Bad Request"}},
		{name: "message null", status: 400, body: `{"message":null}`, want: &fiber.Error{Kind: fiber.KindBadRequest, Message: "Bad Request"}},
		{name: "unknown status text", status: 499, body: `oops`, want: &fiber.Error{Kind: fiber.KindProtocol, Message: "unexpected status"}},
		{name: "invalid UTF-8 message", status: 400, body: "{\"message\":\"a\xffb\"}", want: &fiber.Error{Kind: fiber.KindBadRequest, Message: "a\uFFFDb"}},
		{name: "long message truncated", status: 400, body: `{"message":"` + long + `"}`,
			want: &fiber.Error{Kind: fiber.KindBadRequest, Message: strings.Repeat("é", 510) + "…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestClient(t, jsonHandler(tt.status, tt.body))
			_, err := c.Poll(testContext(t), testKey, fiber.PollRequest{TaskID: "t"})
			var fe *fiber.Error
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want an *Error", err)
			}
			tt.want.Endpoint, tt.want.StatusCode = fiber.EndpointPoll, tt.status
			if diff := cmp.Diff(tt.want, fe); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if len(fe.Message) > 1024 {
				t.Errorf("message is %d bytes, want at most 1 KiB", len(fe.Message))
			}
			assertNoKey(t, err)
		})
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     string
		min, max   time.Duration
		wantIsZero bool
	}{
		{name: "seconds", status: 429, header: "7", min: 7 * time.Second, max: 7 * time.Second},
		{name: "seconds on 503", status: 503, header: " 120 ", min: 2 * time.Minute, max: 2 * time.Minute},
		{name: "zero", status: 429, header: "0"},
		{name: "absent", status: 429},
		{name: "negative", status: 429, header: "-5"},
		{name: "fractional", status: 429, header: "1.5"},
		{name: "garbage", status: 429, header: "soon"},
		{name: "huge", status: 429, header: "99999999999999999999", min: 24 * time.Hour, max: 24 * time.Hour},
		{name: "past date", status: 429, header: "Wed, 21 Oct 2015 07:28:00 GMT"},
		// An HTTP-date has whole seconds and the clock moves on, hence the range.
		{name: "future date", status: 429, header: time.Now().Add(time.Hour).UTC().Format(http.TimeFormat),
			min: time.Hour - time.Minute, max: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				jsonHandler(tt.status, `{"message":"slow down"}`)(w, r)
			})
			c, _ := newTestClient(t, h)
			_, err := c.Cancel(testContext(t), testKey, "t")
			var fe *fiber.Error
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want an *Error", err)
			}
			if fe.RetryAfter < tt.min || fe.RetryAfter > tt.max {
				t.Errorf("RetryAfter = %v, want in [%v, %v]", fe.RetryAfter, tt.min, tt.max)
			}
		})
	}
}

func TestUndecodableSuccess(t *testing.T) {
	tests := []struct {
		ep   fiber.Endpoint
		body string
		want fiber.ErrorKind
	}{
		{fiber.EndpointStart, `{"output":{"numPeopleEnqueued":3}}`, fiber.KindOutcomeUnknown},
		{fiber.EndpointStart, `not json`, fiber.KindOutcomeUnknown},
		{fiber.EndpointStart, ``, fiber.KindOutcomeUnknown},
		{fiber.EndpointPoll, `{"output":{"done":"maybe"}}`, fiber.KindProtocol},
		{fiber.EndpointPoll, `{}`, fiber.KindProtocol},
		{fiber.EndpointCancel, `[]`, fiber.KindProtocol},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s", tt.ep, tt.body), func(t *testing.T) {
			c, _ := newTestClient(t, jsonHandler(http.StatusOK, tt.body))
			err := call(testContext(t), c, tt.ep)
			var fe *fiber.Error
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want an *Error", err)
			}
			if fe.Kind != tt.want || fe.StatusCode != http.StatusOK || fe.Endpoint != tt.ep || fe.Err == nil {
				t.Errorf("got %#v, want kind %v, status 200, a cause", fe, tt.want)
			}
		})
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	for _, withClient := range []bool{true, false} {
		t.Run(fmt.Sprintf("own client %v", withClient), func(t *testing.T) {
			c, srv := newTestClient(t, mux)
			if !withClient {
				var err error
				if c, err = fiber.New(srv.URL); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(c.CloseIdleConnections)
			}
			err := call(testContext(t), c, fiber.EndpointStart)
			if fiber.KindOf(err) != fiber.KindProtocol {
				t.Fatalf("got %v, want KindProtocol", err)
			}
			if n := elsewhere.Load(); n != 0 {
				t.Errorf("redirect followed %d times", n)
			}
		})
	}
}

func TestErrorKindString(t *testing.T) {
	if got := fiber.KindOutcomeUnknown.String(); got != "outcome unknown" {
		t.Errorf("KindOutcomeUnknown.String() = %q", got)
	}
	if got := fiber.ErrorKind(42).String(); got != "ErrorKind(42)" {
		t.Errorf("ErrorKind(42).String() = %q", got)
	}
	if got := fiber.KindOf(errors.New("x")); got != 0 {
		t.Errorf("KindOf(plain error) = %v", got)
	}
	wrapped := fmt.Errorf("outer: %w", &fiber.Error{Kind: fiber.KindNotFound})
	if got := fiber.KindOf(wrapped); got != fiber.KindNotFound {
		t.Errorf("KindOf(wrapped) = %v", got)
	}
}
