package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

func oneStart() *cdv1.StartBatchRequest {
	return &cdv1.StartBatchRequest{PersonDetails: []*cdv1.PersonDetails{
		{LinkedinUrl: &cdv1.LinkedInUrl{Value: "https://www.linkedin.com/in/jake"}},
	}}
}

func errorInfo(st *status.Status) *errdetails.ErrorInfo {
	var found *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			if found != nil {
				return nil // more than one: a bug
			}
			found = ei
		}
	}
	return found
}

func TestFiberErrorStatusesMapToGRPCAndREST(t *testing.T) {
	sim, url := newUpstream(t)
	// A fast start budget keeps the backoff after 429s short.
	p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url, "-fiber-timeout", "5s", "-start-rate", "6000/1m")
	client := p.dial(t)

	tests := []struct {
		name       string
		fault      fiberfake.Fault
		code       codes.Code
		reason     string
		httpStatus int
		retryAfter string // expected REST Retry-After header
	}{
		{"400", fiberfake.Fault{Kind: fiberfake.FaultStatus, Status: 400}, codes.InvalidArgument, "UPSTREAM_INVALID_ARGUMENT", 400, ""},
		{"401", fiberfake.Fault{Kind: fiberfake.FaultStatus, Status: 401}, codes.Unauthenticated, "UPSTREAM_UNAUTHENTICATED", 401, ""},
		{"402", fiberfake.Fault{Kind: fiberfake.FaultStatus, Status: 402}, codes.FailedPrecondition, "UPSTREAM_OUT_OF_CREDITS", 400, ""},
		{"403", fiberfake.Fault{Kind: fiberfake.FaultStatus, Status: 403}, codes.PermissionDenied, "UPSTREAM_PERMISSION_DENIED", 403, ""},
		{"404", fiberfake.Fault{Kind: fiberfake.FaultStatus, Status: 404}, codes.NotFound, "UPSTREAM_NOT_FOUND", 404, ""},
		{"422", fiberfake.Fault{Kind: fiberfake.FaultStatus, Status: 422}, codes.InvalidArgument, "UPSTREAM_INVALID_ARGUMENT", 400, ""},
		// A 429 means Fiber did not act: the start is retried (4 attempts in all) before the
		// caller hears of it.
		{"429", fiberfake.Fault{Kind: fiberfake.FaultStatus, Status: 429}, codes.ResourceExhausted, "UPSTREAM_RATE_LIMITED", 429, ""},
		{"429 with Retry-After", fiberfake.Fault{Kind: fiberfake.FaultStatus, Status: 429, RetryAfter: time.Second}, codes.ResourceExhausted, "UPSTREAM_RATE_LIMITED", 429, "1"},
		// A server error may come after Fiber created (and charged) the task: the start's
		// outcome is unknown, and it is not sent again.
		{"500", fiberfake.Fault{Kind: fiberfake.FaultStatus, Status: 500}, codes.Unknown, "UPSTREAM_OUTCOME_UNKNOWN", 500, ""},
		{"503", fiberfake.Fault{Kind: fiberfake.FaultStatus, Status: 503}, codes.Unknown, "UPSTREAM_OUTCOME_UNKNOWN", 500, ""},
		// The request was written before the connection dropped: from the client's side Fiber may
		// have acted on it, so it is ambiguous too.
		{"connection dropped unanswered", fiberfake.Fault{Kind: fiberfake.FaultDropBefore}, codes.Unknown, "UPSTREAM_OUTCOME_UNKNOWN", 500, ""},
		{"connection dropped after the start was done", fiberfake.Fault{Kind: fiberfake.FaultDropAfter}, codes.Unknown, "UPSTREAM_OUTCOME_UNKNOWN", 500, ""},
		{"broken body after the start was done", fiberfake.Fault{Kind: fiberfake.FaultBrokenBody}, codes.Unknown, "UPSTREAM_OUTCOME_UNKNOWN", 500, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Fiber's message echoes the key: it must be kept, minus the key.
			msg := fmt.Sprintf("fiber says %s for key %s", tt.name, serverKey)
			for _, transport := range []string{"grpc", "rest"} {
				f := tt.fault
				attempts := 1
				if f.Status == 429 {
					attempts = 4
				}
				f.Endpoint, f.Message, f.Count = fiberfake.EndpointStart, msg, attempts
				if err := sim.InjectFault(f); err != nil {
					t.Fatal(err)
				}
				before := sim.Calls(fiberfake.EndpointStart)
				var st *status.Status
				if transport == "grpc" {
					_, err := client.StartBatch(testContext(t), oneStart())
					st = status.Convert(err)
				} else {
					code, hdr, body := p.rest(t, http.MethodPost, "/v1/contact-details/batch/start",
						[]byte(`{"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake"}}]}`), nil)
					if code != tt.httpStatus {
						t.Errorf("REST status = %d, want %d: %s", code, tt.httpStatus, body)
					}
					if got := hdr.Get("Retry-After"); got != tt.retryAfter {
						t.Errorf("REST Retry-After = %q, want %q", got, tt.retryAfter)
					}
					assertNoSecrets(t, string(body))
					st = restStatus(t, body)
				}
				if st.Code() != tt.code {
					t.Errorf("%s: code = %v, want %v (%s)", transport, st.Code(), tt.code, st.Message())
				}
				if ei := errorInfo(st); ei == nil || ei.GetReason() != tt.reason || ei.GetDomain() != "fibergate" {
					t.Errorf("%s: ErrorInfo = %v, want one with reason %s", transport, ei, tt.reason)
				}
				if st.Code() == codes.InvalidArgument {
					// One violation, of the request as a whole, carrying Fiber's message.
					br := badRequestOf(st)
					if len(br) != 1 || br[0].GetField() != "" || !strings.Contains(br[0].GetDescription(), "fiber says "+tt.name) {
						t.Errorf("%s: field violations %v, want one with Fiber's message", transport, br)
					}
				}
				if tt.fault.Kind == fiberfake.FaultStatus && !strings.Contains(st.Message(), "fiber says "+tt.name) {
					t.Errorf("%s: message %q lost Fiber's message", transport, st.Message())
				}
				assertNoSecrets(t, st.Message()+fmt.Sprint(st.Details()))
				if got := sim.Calls(fiberfake.EndpointStart) - before; got != attempts {
					t.Errorf("%s: %d upstream starts, want exactly %d (a start is retried only after a 429)", transport, got, attempts)
				}
			}
		})
	}
	if tail := p.logs.String(); strings.Contains(tail, serverKey) {
		t.Error("the server logged the API key")
	}
}

func TestUnreachableFiberIsUnavailable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + lis.Addr().String()
	lis.Close() // nothing listens there any more
	p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url)
	_, err = p.dial(t).StartBatch(testContext(t), oneStart())
	st := status.Convert(err)
	if st.Code() != codes.Unavailable || errorInfo(st).GetReason() != "UPSTREAM_UNAVAILABLE" {
		t.Errorf("got %v %v, want UNAVAILABLE UPSTREAM_UNAVAILABLE", st.Code(), errorInfo(st))
	}
}

func TestOutOfCreditsCarriesTheTopUpLinkAndBalance(t *testing.T) {
	sim, url := newUpstream(t)
	sim.SetCredits(serverKey, 3)
	p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url)

	_, err := p.dial(t).StartBatch(testContext(t), oneStart())
	st := status.Convert(err)
	ei := errorInfo(st)
	if st.Code() != codes.FailedPrecondition || ei.GetReason() != "UPSTREAM_OUT_OF_CREDITS" {
		t.Fatalf("got %v %v, want FAILED_PRECONDITION UPSTREAM_OUT_OF_CREDITS", st.Code(), ei)
	}
	if ei.GetMetadata()["get_more_credits_url"] == "" || ei.GetMetadata()["available_credits"] != "3" {
		t.Errorf("metadata = %v, want the top-up link and a balance of 3", ei.GetMetadata())
	}
}

func TestNoFiberKeyFailsPreconditionAndSaysSoAtStartup(t *testing.T) {
	sim, url := newUpstream(t)
	p := startServer(t, nil, "-fiber-url", url, "-allow-request-api-key")
	mustContain(t, p.logs.String(), "no Fiber API key configured")

	_, err := p.dial(t).StartBatch(testContext(t), oneStart())
	st := status.Convert(err)
	if st.Code() != codes.FailedPrecondition || errorInfo(st).GetReason() != "FIBER_API_KEY_MISSING" {
		t.Errorf("got %v %v, want FAILED_PRECONDITION FIBER_API_KEY_MISSING", st.Code(), errorInfo(st))
	}
	if n := sim.Calls(fiberfake.EndpointStart); n != 0 {
		t.Errorf("%d upstream calls, want 0", n)
	}
	// A request that brings its own key still works.
	req := oneStart()
	req.ApiKey = requestKey
	if _, err := p.dial(t).StartBatch(testContext(t), req); err != nil {
		t.Errorf("StartBatch with a request key: %v", err)
	}
}

// badRequestOf returns the field violations of st's BadRequest details.
func badRequestOf(st *status.Status) []*errdetails.BadRequest_FieldViolation {
	var out []*errdetails.BadRequest_FieldViolation
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			out = append(out, br.GetFieldViolations()...)
		}
	}
	return out
}

// restStatus decodes the gateway's JSON error body into a status with its details.
func restStatus(t testing.TB, body []byte) *status.Status {
	t.Helper()
	// A server stream's error arrives as {"error": status}.
	var streamed struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &streamed) == nil && len(streamed.Error) > 0 {
		body = streamed.Error
	}
	var raw struct {
		Code    int               `json:"code"`
		Message string            `json:"message"`
		Details []json.RawMessage `json:"details"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	st := status.New(codes.Code(raw.Code), raw.Message)
	for _, d := range raw.Details {
		var head struct {
			Type     string            `json:"@type"`
			Reason   string            `json:"reason"`
			Domain   string            `json:"domain"`
			Metadata map[string]string `json:"metadata"`
			Fields   []struct {
				Field       string `json:"field"`
				Description string `json:"description"`
			} `json:"fieldViolations"`
		}
		if err := json.Unmarshal(d, &head); err != nil {
			t.Fatal(err)
		}
		switch head.Type {
		case "type.googleapis.com/google.rpc.ErrorInfo":
			st, _ = st.WithDetails(&errdetails.ErrorInfo{Reason: head.Reason, Domain: head.Domain, Metadata: head.Metadata})
		case "type.googleapis.com/google.rpc.BadRequest":
			br := &errdetails.BadRequest{}
			for _, f := range head.Fields {
				br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: f.Field, Description: f.Description})
			}
			st, _ = st.WithDetails(br)
		}
	}
	return st
}
