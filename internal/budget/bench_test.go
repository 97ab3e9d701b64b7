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
// limited to 1000 per 50ms (20,000/s) whose window was filled beforehand, so that every timed
// Wait queues and each window's 1000 slots go to the 1000 queued callers. One op is one grant:
// b.N grants span about b.N/1000 windows of 52.5ms (the default margin of this limit is
// 2.5ms), so the default -benchtime of 1s sizes itself to some 20 windows, and a short run of
// the ramp waits only one:
//
//	go test -run '^$' -bench Wait1000Callers -benchmem ./internal/budget/
//
// ns/op is therefore the limit's pace, about 52.5µs, not the limiter's cost. It reports the
// grants per second (the limit less its margin allows 19,048) and that rate as a share of the
// limit, which say whether the limiter keeps pace with 1000 waiters; cpu-ns/grant, the CPU time
// this process spent per grant (the limiter, its timers and waking the callers), which is its
// overhead; and the wait of each call at the 50th and 99th percentiles and on average (a slot
// freed while a caller is already queued is granted at once, one that is not waits for the
// window to move). B/op and allocs/op are per grant.
func BenchmarkWait1000Callers(b *testing.B) { wait1000(b, false) }

// BenchmarkWait1000Background is BenchmarkWait1000Callers with the 1000 callers as 1000 task
// pollers: background Waits, each of since its last grant, so the lane is kept in order of
// since (the oldest first) rather than round-robin:
//
//	go test -run '^$' -bench Wait1000Background -benchmem ./internal/budget/
func BenchmarkWait1000Background(b *testing.B) { wait1000(b, true) }

// wait1000 runs BenchmarkWait1000Callers, with background Waits when background is set.
func wait1000(b *testing.B, background bool) {
	lim := budget.Limit{N: 1000, Per: 50 * time.Millisecond}
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
		waits[i] = make([]time.Duration, 0, 2*b.N/callers+8) // round-robin: about b.N/callers each
		wg.Go(func() {
			cctx := budget.WithCaller(ctx, fmt.Sprint("caller-", i))
			last := time.Now()
			<-start
			for remaining.Add(-1) >= 0 {
				t := time.Now()
				wctx := cctx
				if background {
					wctx = budget.WithBackground(cctx, last)
				}
				if err := l.Wait(wctx, testKey, fiber.EndpointStart); err != nil {
					b.Error(err)
					return
				}
				last = time.Now()
				waits[i] = append(waits[i], last.Sub(t))
			}
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	t0 := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
	cpu := cpuTime() - cpu0
	b.StopTimer()

	all := slices.Concat(waits...)
	slices.Sort(all)
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "grants/s")
	b.ReportMetric(100*rate/lim.PerSecond(), "%limit")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/grant")
	}
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
