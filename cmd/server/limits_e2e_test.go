package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"google.golang.org/protobuf/encoding/protojson"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/fiberfake/fiberfaketest"
)

func TestWatchStreamsPerCallerAreCapped(t *testing.T) {
	_, url := fiberfaketest.NewServer(t, fiberfake.Config{Seed: 3, PeoplePerSecond: 0.5, Keys: map[string]float64{serverKey: 1e6}})
	p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url, "-max-watch-streams", "2")
	client := p.dial(t)
	resp, err := client.StartBatch(testContext(t), oneStart())
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetOutput().GetTaskId()

	open := func() (context.CancelFunc, error) {
		ctx, cancel := context.WithCancel(testContext(t))
		stream, err := client.WatchTask(ctx, &cdv1.WatchTaskRequest{TaskId: id, ProgressOnly: true})
		if err == nil {
			_, err = stream.Recv() // the first message arrives at once, or the refusal
		}
		if err != nil {
			cancel()
		}
		return cancel, err
	}
	c1, err := open()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer c2()
	if _, err := open(); status.Code(err) != codes.ResourceExhausted || errorInfo(status.Convert(err)).GetReason() != "TOO_MANY_STREAMS" {
		t.Fatalf("third stream: %v, want RESOURCE_EXHAUSTED TOO_MANY_STREAMS", err)
	}
	c1() // closing one frees its slot
	deadline := testContext(t)
	for {
		c3, err := open()
		if err == nil {
			c3()
			break
		}
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatal(err)
		}
		// The server may not have seen the cancel yet: wait for it to, bounded by the test's
		// deadline, without sleeping.
		if deadline.Err() != nil {
			t.Fatal("the slot never came back")
		}
	}
}

func TestWatchStreamsPerCallerAreCappedOverREST(t *testing.T) {
	_, url := fiberfaketest.NewServer(t, fiberfake.Config{Seed: 3, PeoplePerSecond: 0.5, Keys: map[string]float64{serverKey: 1e6}})
	p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url, "-max-watch-streams", "1")
	resp, err := p.dial(t).StartBatch(testContext(t), oneStart())
	if err != nil {
		t.Fatal(err)
	}
	path := "/v1/contact-details/batch/" + resp.GetOutput().GetTaskId() + ":watch?progressOnly=true"

	// The first watch holds the only slot while its body is open.
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.httpAddr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	first, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Body.Close()
	if first.StatusCode != http.StatusOK {
		t.Fatalf("first watch: %d", first.StatusCode)
	}
	if _, err := bufio.NewReader(first.Body).ReadBytes('\n'); err != nil {
		t.Fatalf("first watch's first line: %v", err)
	}

	code, hdr, body := p.rest(t, http.MethodGet, path, nil, nil)
	if code != http.StatusTooManyRequests {
		t.Fatalf("second watch: %d %s, want 429", code, body)
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("second watch's Content-Type %q, want JSON", ct)
	}
	if st := restStatus(t, body); st.Code() != codes.ResourceExhausted || errorInfo(st).GetReason() != "TOO_MANY_STREAMS" {
		t.Errorf("second watch: %v %v, want RESOURCE_EXHAUSTED TOO_MANY_STREAMS", st.Code(), errorInfo(st))
	}
	// A gRPC watch of the same caller counts against the same cap.
	stream, err := p.dial(t).WatchTask(testContext(t), &cdv1.WatchTaskRequest{TaskId: resp.GetOutput().GetTaskId(), ProgressOnly: true})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a gRPC watch beside the REST one: %v, want RESOURCE_EXHAUSTED", err)
	}

	// Closing the first frees the slot, once the server has seen it go.
	cancel()
	deadline := testContext(t)
	for {
		code, _, body := p.rest(t, http.MethodGet, path, nil, nil) // to the task's end: 2s
		if code == http.StatusOK {
			break
		}
		if code != http.StatusTooManyRequests || deadline.Err() != nil {
			t.Fatalf("watch after the first closed: %d %s", code, body)
		}
	}
}

// maxURL is a valid LinkedIn URL of exactly 2048 bytes (the contract's cap) and only 1041
// characters: a slug of two-byte characters, unique per i (0 to 9999).
func maxURL(i int) string {
	u := fmt.Sprintf("https://www.linkedin.com/in/p%04d-", i) + strings.Repeat("é", 1007)
	if len(u) != 2048 {
		panic(fmt.Sprintf("maxURL is %d bytes", len(u)))
	}
	return u
}

// TestMaximalStartBatchFitsTheLimits: 2000 people with URLs of the contract's maximum 2048
// bytes (non-ASCII slugs, so far fewer characters) are accepted over gRPC and REST with the
// default size limits and reach Fiber; a URL one byte longer is refused, naming the field.
func TestMaximalStartBatchFitsTheLimits(t *testing.T) {
	sim, url := newUpstream(t)
	p := startServer(t, []string{"FIBER_API_KEY=" + serverKey}, "-fiber-url", url)
	client := p.dial(t)
	req := &cdv1.StartBatchRequest{PersonDetails: people(2000, maxURL)}

	before := sim.Calls(fiberfake.EndpointStart)
	resp, err := client.StartBatch(testContext(t), req)
	if err != nil {
		t.Fatalf("gRPC StartBatch of 2000 maximal URLs: %v", err)
	}
	if n := resp.GetOutput().GetNumPeopleEnqueued(); n != 2000 {
		t.Errorf("gRPC: %d people enqueued, want 2000", n)
	}

	// Over REST the URLs differ (Fiber would skip them as duplicates otherwise).
	rest := &cdv1.StartBatchRequest{PersonDetails: people(2000, func(i int) string { return maxURL(i + 2000) })}
	body, err := protojson.Marshal(rest)
	if err != nil {
		t.Fatal(err)
	}
	code, _, out := p.rest(t, http.MethodPost, "/v1/contact-details/batch/start", body, nil)
	if code != http.StatusOK {
		t.Fatalf("REST StartBatch of 2000 maximal URLs (%d bytes): HTTP %d %.300s", len(body), code, out)
	}
	var restResp struct {
		Output struct {
			NumPeopleEnqueued int `json:"numPeopleEnqueued"`
		} `json:"output"`
	}
	if err := json.Unmarshal(out, &restResp); err != nil || restResp.Output.NumPeopleEnqueued != 2000 {
		t.Errorf("REST: %v, %.300s; want 2000 people enqueued", err, out)
	}
	if n := sim.Calls(fiberfake.EndpointStart) - before; n != 2 {
		t.Errorf("%d starts reached Fiber, want 2", n)
	}

	// One byte over, in the last person.
	over := &cdv1.StartBatchRequest{PersonDetails: people(2000, func(i int) string { return maxURL(i + 4000) })}
	over.PersonDetails[1999].LinkedinUrl.Value += "a"
	const field = "personDetails[1999].linkedinUrl.value"
	_, err = client.StartBatch(testContext(t), over)
	checkInvalid(t, "grpc", status.Convert(err), field)
	body, err = protojson.Marshal(over)
	if err != nil {
		t.Fatal(err)
	}
	code, _, out = p.rest(t, http.MethodPost, "/v1/contact-details/batch/start", body, nil)
	if code != http.StatusBadRequest {
		t.Errorf("REST, one byte over: HTTP %d, want 400: %.300s", code, out)
	}
	checkInvalid(t, "rest", restStatus(t, out), field)
	if n := sim.Calls(fiberfake.EndpointStart) - before; n != 2 {
		t.Errorf("%d starts reached Fiber, want only the 2 valid ones", n)
	}
}
