package main

import (
	"context"
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
