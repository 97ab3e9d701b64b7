package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

// BenchmarkStartBatch measures a 2000-person start through the whole stack (gRPC on
// loopback, interceptors and validation, the idempotency record, the Fiber client, the
// simulator, the task store: sub-benchmark "fibergate") beside the same start sent by the
// Fiber client straight to the simulator ("direct"). The difference of the two is what
// fibergate adds; cmd/bench's overhead scenario measures the same over separate processes.
// Run it with a CPU profile to see where fibergate's share goes:
//
//	go test -run '^$' -bench StartBatch -benchtime 200x -cpuprofile cpu.out ./internal/server/
func BenchmarkStartBatch(b *testing.B) {
	const people = 2000
	// Unlimited starts, and people that never finish: the pollers find nothing to store.
	sim, url, err := fiberfake.Start(fiberfake.Config{
		Seed: 1, PeoplePerSecond: 1e-6, Keys: map[string]float64{benchKey: 1e15},
		Limits: fiberfake.Limits{Start: fiberfake.Rate{N: -1, Per: time.Second}},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sim.Close() })
	fc, err := fiber.New(url)
	if err != nil {
		b.Fatal(err)
	}
	st := startStack(b, stackConfig{starter: fc, upstream: fc, apiKey: benchKey})
	client := st.dial(b, 1)[0]
	ctx := benchContext(b, 30*time.Minute)
	var n int // makes every start's people new to the simulator
	urls := func() []string {
		n++
		out := make([]string, people)
		for i := range out {
			out[i] = fmt.Sprintf("https://www.linkedin.com/in/bench-%d-%d", n, i)
		}
		return out
	}

	b.Run("fibergate", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			req := &cdv1.StartBatchRequest{RequestId: uuid.NewString(), PersonDetails: make([]*cdv1.PersonDetails, people)}
			for i, u := range urls() {
				req.PersonDetails[i] = &cdv1.PersonDetails{LinkedinUrl: &cdv1.LinkedInUrl{Value: u}}
			}
			b.StartTimer()
			resp, err := client.StartBatch(ctx, req)
			if err != nil {
				b.Fatal(err)
			}
			if resp.GetOutput().GetNumPeopleEnqueued() != people {
				b.Fatalf("enqueued %d people, want %d", resp.GetOutput().GetNumPeopleEnqueued(), people)
			}
		}
	})
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			req := fiber.StartRequest{LinkedInURLs: urls()}
			b.StartTimer()
			resp, err := fc.Start(ctx, benchKey, req)
			if err != nil {
				b.Fatal(err)
			}
			if resp.NumPeopleEnqueued != people {
				b.Fatalf("enqueued %d people, want %d", resp.NumPeopleEnqueued, people)
			}
		}
	})
}
