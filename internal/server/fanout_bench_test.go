package server_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/tasks"
)

// BenchmarkFanOutLatency measures how long one stored result takes to reach every one of
// 1,000 watchers of its task: from the moment the engine's AppendResults write returns (the
// engine wakes the watchers right after it) to the moment the last watcher's gRPC client
// receives the message carrying it.
//
// Method: the whole server runs in this process (SQLite store, engine, service, gRPC server)
// with the watchers as gRPC clients over loopback, 250 streams on each of 4 connections, so
// client and server share the 2 CPUs and the figures are an upper bound for the server. Fiber
// is replaced by releasingUpstream, whose polls block until the benchmark releases the next
// person: each round releases exactly one result, which the waiting poll returns at once, and
// the next round starts only when all 1,000 watchers have the result, so rounds never overlap.
// The store is wrapped to timestamp each AppendResults. One op is 100 rounds; p50-ms and
// p99-ms are over every round of the run, so -benchtime 1x already gives 100 samples:
//
//	go test -run '^$' -bench FanOutLatency -benchtime 1x ./internal/server/
func BenchmarkFanOutLatency(b *testing.B) {
	const watchers, conns, roundsPerOp = 1000, 4, 100
	total := b.N * roundsPerOp
	f := startFanOut(b, watchers, conns, total)
	latencies := make([]time.Duration, 0, total)
	b.ResetTimer()
	for seq := 1; seq <= total; seq++ {
		latencies = append(latencies, f.round(b, seq))
	}
	b.StopTimer()
	f.stop(b)

	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(latencies[len(latencies)-1])/float64(time.Millisecond), "max-ms")
}

// TestFanOutSmall runs BenchmarkFanOutLatency's body with 150 watchers (more than
// service.DefaultMaxWatchStreams, so a stack that lost its raised cap fails here) over 3
// connections for 5 rounds, so that `go test` catches what would break the benchmark. It checks
// delivery, not speed: each result reaches every watcher exactly once, after it was stored.
func TestFanOutSmall(t *testing.T) {
	const watchers, conns, rounds = 150, 3, 5
	f := startFanOut(t, watchers, conns, rounds)
	for seq := 1; seq <= rounds; seq++ {
		if d := f.round(t, seq); d < 0 {
			t.Errorf("result %d reached its last watcher %v before it was stored", seq, -d)
		}
	}
	f.stop(t)
}

// fanOut is a stack whose one task gets a result each round, watched by many gRPC clients.
type fanOut struct {
	up       *releasingUpstream
	timed    *timedStore
	arrivals []*arrival // by result sequence number, from 1
	errs     chan error // a watcher's stream ended before stop

	stopWatchers context.CancelFunc
	running      sync.WaitGroup // the watchers' goroutines
}

// startFanOut starts a stack with one task that will have rounds results, and watchers watches
// of it over conns connections, and returns once each watcher got its first update.
func startFanOut(tb testing.TB, watchers, conns, rounds int) *fanOut {
	tb.Helper()
	f := &fanOut{
		up:    &releasingUpstream{total: rounds + 1, wake: make(chan struct{})},
		timed: &timedStore{stored: map[int]time.Time{}},
		errs:  make(chan error, watchers),
	}
	st := startStack(tb, stackConfig{
		starter:  fakeStarter{taskID: "fanout-task", people: rounds + 1},
		upstream: f.up,
		apiKey:   benchKey,
		// The poll that follows a stored result starts 1ms later and waits for the next release.
		policy:          tasks.Policy{MinInterval: time.Millisecond, MaxInterval: time.Millisecond},
		maxWatchStreams: watchers,
		wrap: func(s tasks.Store) tasks.Store {
			f.timed.Store = s
			return f.timed
		},
	})
	clients := st.dial(tb, conns)
	ctx := benchContext(tb, 30*time.Minute)
	resp, err := clients[0].StartBatch(ctx, &cdv1.StartBatchRequest{PersonDetails: []*cdv1.PersonDetails{
		{LinkedinUrl: &cdv1.LinkedInUrl{Value: "https://www.linkedin.com/in/fanout"}},
	}})
	if err != nil {
		tb.Fatal(err)
	}
	id := resp.GetOutput().GetTaskId()

	f.arrivals = make([]*arrival, rounds+1)
	for i := range f.arrivals {
		f.arrivals[i] = &arrival{done: make(chan struct{})}
		f.arrivals[i].remaining.Store(int64(watchers))
	}
	watchCtx, stopWatchers := context.WithCancel(ctx)
	f.stopWatchers = stopWatchers
	tb.Cleanup(stopWatchers)
	var ready sync.WaitGroup
	ready.Add(watchers)
	f.running.Add(watchers)
	for w := range watchers {
		go func() {
			defer f.running.Done()
			stream, err := clients[w%conns].WatchTask(watchCtx, &cdv1.WatchTaskRequest{TaskId: id})
			if err == nil {
				_, err = stream.Recv() // the first update: the task, no result yet
			}
			ready.Done()
			for err == nil {
				var m *cdv1.WatchTaskResponse
				if m, err = stream.Recv(); err != nil {
					break
				}
				now := time.Now().UnixNano()
				for _, r := range m.GetResults() {
					f.arrivals[r.GetSequence()].got(now)
				}
			}
			if watchCtx.Err() == nil {
				f.errs <- err
			}
		}()
	}
	if !waitGroup(&ready, time.Minute) {
		tb.Fatal("watchers not ready within a minute")
	}
	return f
}

// round releases result seq, waits until every watcher received it and returns the time from
// its storing to its last receipt.
func (f *fanOut) round(tb testing.TB, seq int) time.Duration {
	tb.Helper()
	f.up.release()
	select {
	case <-f.arrivals[seq].done:
	case err := <-f.errs:
		tb.Fatalf("a watcher stopped: %v", err)
	case <-time.After(time.Minute):
		tb.Fatalf("result %d did not reach every watcher within a minute", seq)
	}
	stored := f.timed.storedAt(seq)
	if stored.IsZero() {
		tb.Fatalf("result %d reached the watchers without a recorded AppendResults", seq)
	}
	return time.Unix(0, f.arrivals[seq].last.Load()).Sub(stored)
}

// stop ends the watchers and checks that none received a result twice.
func (f *fanOut) stop(tb testing.TB) {
	tb.Helper()
	f.stopWatchers()
	if !waitGroup(&f.running, time.Minute) {
		tb.Error("watchers did not stop within a minute")
		return
	}
	for seq, a := range f.arrivals[1:] {
		if n := a.remaining.Load(); n < 0 {
			tb.Errorf("result %d received %d times too many", seq+1, -n)
		}
	}
}

// arrival tracks one result's delivery to the watchers.
type arrival struct {
	remaining atomic.Int64  // watchers still to receive it
	last      atomic.Int64  // latest receive time, unix nanoseconds
	done      chan struct{} // closed when remaining reaches 0
}

// got records a receipt at now, unix nanoseconds.
func (a *arrival) got(now int64) {
	for {
		prev := a.last.Load()
		if now <= prev || a.last.CompareAndSwap(prev, now) {
			break
		}
	}
	if a.remaining.Add(-1) == 0 {
		close(a.done)
	}
}

// releasingUpstream is a Fiber whose one task completes a person each time release is called.
// A poll that would find nothing new waits for the next release (or its context), so the
// engine stores each result as soon as it is released. Cursors are result offsets.
type releasingUpstream struct {
	total int

	mu       sync.Mutex // guards released and wake
	released int
	wake     chan struct{} // closed and replaced by release
}

// release completes the next person.
func (u *releasingUpstream) release() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.released++
	close(u.wake)
	u.wake = make(chan struct{})
}

// Poll returns the results released after the cursor, waiting for one when there is none.
func (u *releasingUpstream) Poll(ctx context.Context, _ string, req fiber.PollRequest) (*fiber.PollResponse, error) {
	from := 0
	if req.Cursor != nil {
		var err error
		if from, err = strconv.Atoi(*req.Cursor); err != nil {
			return nil, fmt.Errorf("bad cursor %q", *req.Cursor)
		}
	}
	for {
		u.mu.Lock()
		n, wake := u.released, u.wake
		u.mu.Unlock()
		if n > from {
			end := min(n, from+max(req.Take, 1))
			resp := &fiber.PollResponse{
				Stats: fiber.OverallStats{TotalPeopleToFetch: u.total, NumCompleted: n, NumRemaining: u.total - n},
			}
			for i := from; i < end; i++ {
				resp.Results = append(resp.Results, fiber.PersonResult{
					LinkedInURL: fmt.Sprintf("https://www.linkedin.com/in/fanout-%d", i),
					Emails:      []fiber.Email{{Email: fmt.Sprintf("fanout.%d@acme.example.com", i), Type: "work", Status: "valid"}},
				})
			}
			c := strconv.Itoa(end)
			resp.NextCursor = &c
			return resp, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wake:
		}
	}
}

// Cancel fails: the benchmarks never cancel.
func (u *releasingUpstream) Cancel(context.Context, string, string) (*fiber.CancelResponse, error) {
	return nil, errors.New("releasingUpstream: cancel not supported")
}

// fakeStarter answers every start with the same task.
type fakeStarter struct {
	taskID string
	people int
}

// Start returns the task.
func (s fakeStarter) Start(context.Context, string, fiber.StartRequest) (*fiber.StartResponse, error) {
	return &fiber.StartResponse{TaskID: s.taskID, NumPeopleEnqueued: s.people, Charge: fiber.ChargeInfo{Method: "free"}}, nil
}

// timedStore records when each AppendResults that stored results returned, by the sequence
// number of its last result.
type timedStore struct {
	tasks.Store

	mu     sync.Mutex // guards stored
	stored map[int]time.Time
}

// AppendResults stores the results and records when, by the last result's sequence number.
func (s *timedStore) AppendResults(ctx context.Context, id string, fromSeq int, results [][]byte, u storage.Update) error {
	err := s.Store.AppendResults(ctx, id, fromSeq, results, u)
	if err == nil && len(results) > 0 {
		now := time.Now()
		s.mu.Lock()
		s.stored[fromSeq+len(results)] = now
		s.mu.Unlock()
	}
	return err
}

// storedAt returns when the results up to seq were stored, or the zero time.
func (s *timedStore) storedAt(seq int) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stored[seq]
}

// waitGroup waits for wg for at most d and reports whether it finished.
func waitGroup(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}
