package server_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

// startPeople is the size of the benchmarked starts: Fiber's maximum.
const startPeople = 2000

// BenchmarkStartBatch measures what fibergate adds to a 2000-person start, in this process
// over loopback gRPC, through the stack cmd/server wires (interceptors and validation, the
// idempotency record, the task store), without the noise of separate processes:
//
//   - "fibergate": one op is a start through fibergate to a Starter that answers at once, so
//     ns/op is fibergate's own cost (and the gRPC client's), Fiber's call excluded.
//   - "pair": one op is a pair of starts, one through fibergate to the Fiber simulator and the
//     same (other people) sent by the Fiber client straight to it, in alternating order, as
//     cmd/bench's overhead scenario does over separate processes; added-p50-ms is the median
//     of the pairs' differences.
//
// With a CPU profile it shows where fibergate's share goes:
//
//	go test -run '^$' -bench StartBatch -benchtime 200x -cpuprofile cpu.out ./internal/server/
func BenchmarkStartBatch(b *testing.B) {
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
	ctx := benchContext(b, 30*time.Minute)
	var n int // makes every start's people new to the simulator
	urls := func() []string {
		n++
		out := make([]string, startPeople)
		for i := range out {
			out[i] = fmt.Sprintf("https://www.linkedin.com/in/bench-%d-%d", n, i)
		}
		return out
	}
	newRequest := func() *cdv1.StartBatchRequest {
		req := &cdv1.StartBatchRequest{RequestId: uuid.NewString(), PersonDetails: make([]*cdv1.PersonDetails, startPeople)}
		for i, u := range urls() {
			req.PersonDetails[i] = &cdv1.PersonDetails{LinkedinUrl: &cdv1.LinkedInUrl{Value: u}}
		}
		return req
	}
	// through starts a batch through client and returns how long the call took.
	through := func(b *testing.B, client cdv1.ContactDetailsServiceClient) time.Duration {
		req := newRequest()
		begin := time.Now()
		resp, err := client.StartBatch(ctx, req)
		took := time.Since(begin)
		if err != nil {
			b.Fatal(err)
		}
		if got := resp.GetOutput().GetNumPeopleEnqueued(); got != startPeople {
			b.Fatalf("enqueued %d people, want %d", got, startPeople)
		}
		return took
	}

	b.Run("fibergate", func(b *testing.B) {
		st := startStack(b, stackConfig{starter: &instantStarter{}, upstream: fc, apiKey: benchKey})
		client := st.dial(b, 1)[0]
		for b.Loop() {
			b.StopTimer()
			req := newRequest()
			b.StartTimer()
			if _, err := client.StartBatch(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pair", func(b *testing.B) {
		st := startStack(b, stackConfig{starter: fc, upstream: fc, apiKey: benchKey})
		client := st.dial(b, 1)[0]
		// direct sends a start straight to the simulator and returns how long it took.
		direct := func(b *testing.B) time.Duration {
			req := fiber.StartRequest{LinkedInURLs: urls()}
			begin := time.Now()
			resp, err := fc.Start(ctx, benchKey, req)
			took := time.Since(begin)
			if err != nil {
				b.Fatal(err)
			}
			if resp.NumPeopleEnqueued != startPeople {
				b.Fatalf("enqueued %d people, want %d", resp.NumPeopleEnqueued, startPeople)
			}
			return took
		}
		var fg, raw, added []time.Duration
		i := 0
		for b.Loop() {
			var dFG, dRaw time.Duration
			if i++; i%2 == 0 {
				dFG, dRaw = through(b, client), direct(b)
			} else {
				dRaw, dFG = direct(b), through(b, client)
			}
			fg, raw, added = append(fg, dFG), append(raw, dRaw), append(added, dFG-dRaw)
		}
		ms := func(ds []time.Duration) float64 {
			slices.Sort(ds)
			return float64(ds[len(ds)/2]) / float64(time.Millisecond)
		}
		b.ReportMetric(ms(fg), "fibergate-p50-ms")
		b.ReportMetric(ms(raw), "direct-p50-ms")
		b.ReportMetric(ms(added), "added-p50-ms")
	})
}

// instantStarter answers every start at once, as Fiber would a start of 2000 new people.
type instantStarter struct{ n atomic.Int64 }

func (s *instantStarter) Start(_ context.Context, _ string, req fiber.StartRequest) (*fiber.StartResponse, error) {
	return &fiber.StartResponse{
		TaskID:            fmt.Sprintf("instant-%d", s.n.Add(1)),
		NumPeopleEnqueued: len(req.LinkedInURLs),
		Charge:            fiber.ChargeInfo{Method: "charging-later"},
	}, nil
}
