package budget_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
)

// BenchmarkWaitFree measures the limiter's overhead per call when a slot is free: 1000 slots
// per microsecond is more than any loop can take.
func BenchmarkWaitFree(b *testing.B) {
	l := newLimiter(b, budget.Config{Limits: budget.Limits{Poll: budget.Limit{N: 1000, Per: time.Microsecond}}, Margin: -1})
	ctx, cancel := context.WithTimeout(budget.WithCaller(context.Background(), "bench"), time.Minute)
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Wait(ctx, testKey, fiber.EndpointPoll); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWaitFreeParallel is BenchmarkWaitFree from GOMAXPROCS goroutines, on 16 keys.
func BenchmarkWaitFreeParallel(b *testing.B) {
	l := newLimiter(b, budget.Config{Limits: budget.Limits{Poll: budget.Limit{N: 1000, Per: time.Microsecond}}, Margin: -1})
	var next atomic.Int64
	base, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		key := fmt.Sprint("key-", next.Add(1)%16)
		ctx := budget.WithCaller(base, key)
		for pb.Next() {
			if err := l.Wait(ctx, key, fiber.EndpointPoll); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkWait1000Callers runs 1000 callers, each in a loop of Waits, against one bucket
// limited to 100000/1s whose window was filled beforehand, so that every timed Wait queues.
// It reports the grants per second (the limit allows 100000, less the 20ms margin: 98039),
// that rate as a share of the limit, and the wait of each call at the 50th and 99th
// percentiles (bimodal: a slot freed while a caller is already queued is granted in
// microseconds, one that is not waits for the window to move). b.N is the number of grants; run it with -benchtime=300000x or more so that it
// spans a few windows.
func BenchmarkWait1000Callers(b *testing.B) {
	lim := budget.Limit{N: 100000, Per: time.Second}
	l := newLimiter(b, budget.Config{Limits: budget.Limits{Start: lim}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for range lim.N {
		if err := l.Wait(ctx, testKey, fiber.EndpointStart); err != nil {
			b.Fatal(err)
		}
	}
	const callers = 1000
	var (
		remaining atomic.Int64
		wg        sync.WaitGroup
		start     = make(chan struct{})
		waits     = make([][]time.Duration, callers)
	)
	remaining.Store(int64(b.N))
	for i := range callers {
		wg.Go(func() {
			cctx := budget.WithCaller(ctx, fmt.Sprint("caller-", i))
			<-start
			for remaining.Add(-1) >= 0 {
				t := time.Now()
				if err := l.Wait(cctx, testKey, fiber.EndpointStart); err != nil {
					b.Error(err)
					return
				}
				waits[i] = append(waits[i], time.Since(t))
			}
		})
	}
	b.ResetTimer()
	t0 := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
	b.StopTimer()

	all := slices.Concat(waits...)
	slices.Sort(all)
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "grants/s")
	b.ReportMetric(100*rate/lim.PerSecond(), "%limit")
	if len(all) > 0 {
		var sum time.Duration
		for _, d := range all {
			sum += d
		}
		b.ReportMetric(float64(all[len(all)/2].Nanoseconds())/1e3, "p50-µs")
		b.ReportMetric(float64(all[len(all)*99/100].Nanoseconds())/1e6, "p99-ms")
		b.ReportMetric(float64(sum.Nanoseconds())/float64(len(all))/1e6, "mean-ms")
	}
	if st := bucketStats(l, testKey, fiber.EndpointStart); st.Grants != uint64(lim.N+b.N) {
		b.Errorf("grants = %d, want %d", st.Grants, lim.N+b.N)
	}
}
