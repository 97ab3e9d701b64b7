package main

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

const requestID = "7d444840-9dc0-11d1-b245-5ffdce74fad2"

func idempotentStart(id string, urls ...string) *cdv1.StartBatchRequest {
	req := &cdv1.StartBatchRequest{RequestId: id}
	for _, u := range urls {
		req.PersonDetails = append(req.PersonDetails, &cdv1.PersonDetails{LinkedinUrl: &cdv1.LinkedInUrl{Value: u}})
	}
	return req
}

func TestIdempotentStartBatchPaysOnce(t *testing.T) {
	sim, url := newUpstream(t)
	store := "sqlite:" + t.TempDir() + "/fibergate.db"
	p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url, "-store", store)
	client := p.dial(t)
	req := idempotentStart(requestID, "https://www.linkedin.com/in/jake", "https://www.linkedin.com/in/ada")

	// 20 concurrent identical calls: one upstream start, 20 identical answers.
	var wg sync.WaitGroup
	resps := make([]*cdv1.StartBatchResponse, 20)
	errs := make([]error, 20)
	for i := range resps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resps[i], errs[i] = client.StartBatch(testContext(t), req)
		}()
	}
	wg.Wait()
	for i := range resps {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if !proto.Equal(resps[i], resps[0]) {
			t.Fatalf("call %d answered %v, call 0 %v", i, resps[i], resps[0])
		}
	}
	if n := sim.Calls(fiberfake.EndpointStart); n != 1 {
		t.Fatalf("%d upstream starts for 20 identical calls, want 1", n)
	}

	// The same after a restart on the same store.
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	p = startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url, "-store", store)
	client = p.dial(t)
	again, err := client.StartBatch(testContext(t), req)
	if err != nil || !proto.Equal(again, resps[0]) {
		t.Fatalf("after restart: %v, %v; want the original answer", again, err)
	}
	if n := sim.Calls(fiberfake.EndpointStart); n != 1 {
		t.Fatalf("%d upstream starts after a restart, want 1", n)
	}

	// The same id with another payload is refused.
	_, err = client.StartBatch(testContext(t), idempotentStart(requestID, "https://www.linkedin.com/in/someone-else"))
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || errorInfo(st).GetReason() != "IDEMPOTENCY_KEY_REUSED" {
		t.Errorf("reused id: %v %v, want INVALID_ARGUMENT IDEMPOTENCY_KEY_REUSED", st.Code(), errorInfo(st))
	}
	if got := fieldViolations(st); len(got) != 1 || got[0] != "requestId" {
		t.Errorf("reused id: field violations %q, want requestId", got)
	}
	if n := sim.Calls(fiberfake.EndpointStart); n != 1 {
		t.Errorf("%d upstream starts, want 1", n)
	}
}

func TestIdempotencyKeyHeaderOverREST(t *testing.T) {
	sim, url := newUpstream(t)
	p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url)
	body := []byte(`{"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake"}}]}`)
	h := http.Header{"Idempotency-Key": {requestID}}
	code1, _, out1 := p.rest(t, http.MethodPost, "/v1/contact-details/batch/start", body, h)
	code2, _, out2 := p.rest(t, http.MethodPost, "/v1/contact-details/batch/start", body, h)
	if code1 != http.StatusOK || code2 != http.StatusOK || string(out1) != string(out2) {
		t.Fatalf("two calls with one Idempotency-Key: %d %s / %d %s", code1, out1, code2, out2)
	}
	if n := sim.Calls(fiberfake.EndpointStart); n != 1 {
		t.Errorf("%d upstream starts, want 1", n)
	}
	// The same key with another body is refused, naming the header.
	other := []byte(`{"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/ada"}}]}`)
	code, _, out := p.rest(t, http.MethodPost, "/v1/contact-details/batch/start", other, h)
	st := restStatus(t, out)
	if code != http.StatusBadRequest || errorInfo(st).GetReason() != "IDEMPOTENCY_KEY_REUSED" {
		t.Errorf("reused Idempotency-Key: %d %s, want 400 IDEMPOTENCY_KEY_REUSED", code, out)
	}
	if got := fieldViolations(st); len(got) != 1 || got[0] != "Idempotency-Key" {
		t.Errorf("reused Idempotency-Key: field violations %q, want Idempotency-Key", got)
	}
	// (CR/LF in a header never reaches the handlers: Go's HTTP client and server refuse it.)
	for _, bad := range []string{"not-a-uuid", requestID + "," + requestID, strings.Repeat("a", 10000), "{" + requestID + "}"} {
		code, _, out := p.rest(t, http.MethodPost, "/v1/contact-details/batch/start", body, http.Header{"Idempotency-Key": {bad}})
		if code != http.StatusBadRequest {
			t.Errorf("Idempotency-Key %q: %d %s, want 400", bad, code, out)
		}
	}
	if n := sim.Calls(fiberfake.EndpointStart); n != 1 {
		t.Errorf("%d upstream starts after bad keys, want 1", n)
	}
}

func TestIdempotentStartAfterFailures(t *testing.T) {
	sim, url := newUpstream(t)
	p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url)
	client := p.dial(t)

	// A start Fiber surely refused: the same id may be retried, and then succeeds.
	if err := sim.InjectFault(fiberfake.Fault{Endpoint: fiberfake.EndpointStart, Kind: fiberfake.FaultStatus, Status: 503, Count: 1}); err != nil {
		t.Fatal(err)
	}
	req := idempotentStart("0e9f7d3c-2b1a-4c5d-8e6f-7a8b9c0d1e2f", "https://www.linkedin.com/in/jake")
	if _, err := client.StartBatch(testContext(t), req); status.Code(err) != codes.Unavailable {
		t.Fatalf("first try: %v, want UNAVAILABLE", err)
	}
	if _, err := client.StartBatch(testContext(t), req); err != nil {
		t.Fatalf("retry after a refused start: %v", err)
	}

	// A start whose outcome is unknown is never sent again under its id.
	if err := sim.InjectFault(fiberfake.Fault{Endpoint: fiberfake.EndpointStart, Kind: fiberfake.FaultDropAfter, Count: 1}); err != nil {
		t.Fatal(err)
	}
	amb := idempotentStart("5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "https://www.linkedin.com/in/ada")
	before := sim.Calls(fiberfake.EndpointStart)
	for range 2 {
		_, err := client.StartBatch(testContext(t), amb)
		if st := status.Convert(err); st.Code() != codes.Unknown || errorInfo(st).GetReason() != "UPSTREAM_OUTCOME_UNKNOWN" {
			t.Fatalf("ambiguous start: %v %v, want UNKNOWN UPSTREAM_OUTCOME_UNKNOWN", st.Code(), errorInfo(st))
		}
	}
	if n := sim.Calls(fiberfake.EndpointStart) - before; n != 1 {
		t.Errorf("the ambiguous start went upstream %d times, want 1", n)
	}
}
