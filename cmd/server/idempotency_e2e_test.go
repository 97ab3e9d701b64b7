package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

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

	// A start Fiber surely refused (402: out of credits, nothing was charged): the same id
	// may be retried once credits are topped up, and then succeeds.
	if err := sim.InjectFault(fiberfake.Fault{Endpoint: fiberfake.EndpointStart, Kind: fiberfake.FaultStatus, Status: 402, Count: 1}); err != nil {
		t.Fatal(err)
	}
	req := idempotentStart("0e9f7d3c-2b1a-4c5d-8e6f-7a8b9c0d1e2f", "https://www.linkedin.com/in/jake")
	if _, err := client.StartBatch(testContext(t), req); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("first try: %v, want FAILED_PRECONDITION", err)
	}
	if _, err := client.StartBatch(testContext(t), req); err != nil {
		t.Fatalf("retry after a refused start: %v", err)
	}

	// A start whose outcome is unknown (no answer, or a server error that may have come after
	// the task was created) is never sent again under its id.
	for i, f := range []fiberfake.Fault{
		{Endpoint: fiberfake.EndpointStart, Kind: fiberfake.FaultDropAfter, Count: 1},
		{Endpoint: fiberfake.EndpointStart, Kind: fiberfake.FaultStatus, Status: 503, Count: 1},
		{Endpoint: fiberfake.EndpointStart, Kind: fiberfake.FaultStatus, Status: 500, Count: 1},
	} {
		if err := sim.InjectFault(f); err != nil {
			t.Fatal(err)
		}
		amb := idempotentStart(fmt.Sprintf("5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4%d", i), fmt.Sprintf("https://www.linkedin.com/in/ada-%d", i))
		before := sim.Calls(fiberfake.EndpointStart)
		for range 2 {
			_, err := client.StartBatch(testContext(t), amb)
			if st := status.Convert(err); st.Code() != codes.Unknown || errorInfo(st).GetReason() != "UPSTREAM_OUTCOME_UNKNOWN" {
				t.Fatalf("ambiguous start (%v %d): %v %v, want UNKNOWN UPSTREAM_OUTCOME_UNKNOWN", f.Kind, f.Status, st.Code(), errorInfo(st))
			}
		}
		if n := sim.Calls(fiberfake.EndpointStart) - before; n != 1 {
			t.Errorf("the ambiguous start (%v %d) went upstream %d times, want 1", f.Kind, f.Status, n)
		}
	}
}

func TestIdempotencyKeyOverRESTPaysOnceConcurrentlyAndAfterRestart(t *testing.T) {
	sim, url := newUpstream(t)
	store := "sqlite:" + t.TempDir() + "/fibergate.db"
	p := startOn(t, url, "-store", store)
	body := []byte(`{"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake"}},{"linkedinUrl":{"value":"https://www.linkedin.com/in/ada"}}]}`)
	h := http.Header{"Idempotency-Key": {requestID}}
	post := func(p *proc, body []byte) (int, []byte) {
		code, _, out := p.rest(t, http.MethodPost, "/v1/contact-details/batch/start", body, h)
		return code, out
	}

	// 20 concurrent identical calls: one upstream start, 20 identical bodies.
	var wg sync.WaitGroup
	statuses := make([]int, 20)
	bodies := make([][]byte, 20)
	errs := make([]error, 20)
	for i := range statuses {
		// Not p.rest: it may call t.Fatal, which only the test's goroutine may.
		wg.Go(func() {
			req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, "http://"+p.httpAddr+"/v1/contact-details/batch/start", bytes.NewReader(body))
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", requestID)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			statuses[i] = resp.StatusCode
			bodies[i], errs[i] = io.ReadAll(resp.Body)
		})
	}
	wg.Wait()
	for i := range statuses {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if statuses[i] != http.StatusOK || string(bodies[i]) != string(bodies[0]) {
			t.Fatalf("call %d: %d %s; call 0: %d %s", i, statuses[i], bodies[i], statuses[0], bodies[0])
		}
	}
	if n := sim.Calls(fiberfake.EndpointStart); n != 1 {
		t.Fatalf("%d upstream starts for 20 identical REST calls, want 1", n)
	}

	// The same after a restart on the same store.
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	p = startOn(t, url, "-store", store)
	if code, out := post(p, body); code != http.StatusOK || string(out) != string(bodies[0]) {
		t.Fatalf("after the restart: %d %s, want the original answer %s", code, out, bodies[0])
	}
	if n := sim.Calls(fiberfake.EndpointStart); n != 1 {
		t.Fatalf("%d upstream starts after the restart, want 1", n)
	}

	// The same key with another body: 400 IDEMPOTENCY_KEY_REUSED, nothing sent.
	code, out := post(p, []byte(`{"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/someone-else"}}]}`))
	if st := restStatus(t, out); code != http.StatusBadRequest || errorInfo(st).GetReason() != "IDEMPOTENCY_KEY_REUSED" {
		t.Errorf("reused key: %d %s, want 400 IDEMPOTENCY_KEY_REUSED", code, out)
	}
	if n := sim.Calls(fiberfake.EndpointStart); n != 1 {
		t.Errorf("%d upstream starts, want 1", n)
	}
}

// TestIdempotencyTTLFlagReachesTheService proves only the wiring of -idempotency-ttl: the
// expiry itself is tested with a fake clock in internal/service. It needs a real wait, as
// short as the TTL can be made while the first replay still lands inside it.
func TestIdempotencyTTLFlagReachesTheService(t *testing.T) {
	sim, url := newUpstream(t)
	const ttl = 2 * time.Second
	p := startOn(t, url, "-idempotency-ttl", ttl.String())
	client := p.dial(t)
	req := idempotentStart("3f0c2b7e-5d4a-4c1b-9e8f-7a6b5c4d3e2f", "https://www.linkedin.com/in/jake")

	began := time.Now()
	first, err := client.StartBatch(testContext(t), req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := client.StartBatch(testContext(t), req)
	if time.Since(began) < ttl {
		// Within the TTL (the check is skipped on a machine so slow that it has passed).
		if err != nil || !proto.Equal(again, first) || sim.Calls(fiberfake.EndpointStart) != 1 {
			t.Fatalf("a replay within the TTL: %v, %v, %d upstream starts; want the first answer, 1 start", again, err, sim.Calls(fiberfake.EndpointStart))
		}
	}
	// Once the TTL has passed the id is forgotten: the same request starts a new task. Poll,
	// bounded by the test's deadline, rather than sleep for a guessed time.
	deadline := testContext(t)
	tick := time.NewTicker(ttl / 10)
	defer tick.Stop()
	for {
		resp, err := client.StartBatch(testContext(t), req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetOutput().GetTaskId() != first.GetOutput().GetTaskId() {
			if waited := time.Since(began); waited < ttl {
				t.Errorf("a new start after %v, before the TTL of %v", waited, ttl)
			}
			break
		}
		select {
		case <-tick.C:
		case <-deadline.Done():
			t.Fatalf("the request id was still remembered %v after its TTL of %v", time.Since(began), ttl)
		}
	}
	if n := sim.Calls(fiberfake.EndpointStart); n != 2 {
		t.Errorf("%d upstream starts, want 2", n)
	}
}
