package main

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

func TestOverDeadlineStartsFailFastWithRetryInfo(t *testing.T) {
	sim, url := newUpstream(t)
	p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url, "-start-rate", "2/1m")
	client := p.dial(t)
	for range 2 {
		if _, err := client.StartBatch(testContext(t), oneStart()); err != nil {
			t.Fatal(err)
		}
	}

	// The window is booked for a minute: a call that may wait 2s fails at once.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	began := time.Now()
	_, err := client.StartBatch(ctx, oneStart())
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted || errorInfo(st).GetReason() != "RATE_LIMITED" {
		t.Fatalf("got %v %v, want RESOURCE_EXHAUSTED RATE_LIMITED", st.Code(), errorInfo(st))
	}
	if ctx.Err() != nil {
		t.Errorf("the call waited out its deadline (%v) instead of failing at once", time.Since(began))
	}
	var retry *errdetails.RetryInfo
	var quota *errdetails.QuotaFailure
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.RetryInfo:
			retry = d
		case *errdetails.QuotaFailure:
			quota = d
		}
	}
	if retry == nil || retry.GetRetryDelay().AsDuration() < 30*time.Second {
		t.Errorf("RetryInfo %v, want a delay near the minute the window is booked", retry)
	}
	if quota == nil || len(quota.GetViolations()) != 1 {
		t.Errorf("QuotaFailure %v, want one violation", quota)
	}

	// Over REST: 429 with Retry-After.
	code, hdr, body := p.rest(t, http.MethodPost, "/v1/contact-details/batch/start",
		[]byte(`{"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake"}}]}`),
		http.Header{"Grpc-Timeout": {"2S"}})
	if code != http.StatusTooManyRequests {
		t.Fatalf("REST status %d, want 429: %s", code, body)
	}
	if secs, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || secs < 30 {
		t.Errorf("Retry-After %q, want the seconds until the window frees", hdr.Get("Retry-After"))
	}
	if n := sim.Calls(fiberfake.EndpointStart); n != 2 {
		t.Errorf("%d upstream starts, want 2: nothing is sent for a refused call", n)
	}
}
