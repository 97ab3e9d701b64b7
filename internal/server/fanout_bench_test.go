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
// p99-ms are over every round of the run.
func BenchmarkFanOutLatency(b *testing.B) {
	const watchers, conns, roundsPerOp = 1000, 4, 100
	total := b.N * roundsPerOp
	up := &releasingUpstream{total: total + 1, wake: make(chan struct{})}
	timed := &timedStore{stored: map[int]time.Time{}}
	st := startStack(b, stackConfig{
		starter:  fakeStarter{taskID: "fanout-task", people: total + 1},
		upstream: up,
		apiKey:   benchKey,
		// The poll that follows a stored result starts 1ms later and waits for the next release.
		policy: tasks.Policy{MinInterval: time.Millisecond, MaxInterval: time.Millisecond},
		wrap: func(s storage.Store) storage.Store {
			timed.Store = s
			return timed
		},
	})
	clients := st.dial(b, conns)
	ctx := benchContext(b, 30*time.Minute)
	resp, err := clients[0].StartBatch(ctx, &cdv1.StartBatchRequest{PersonDetails: []*cdv1.PersonDetails{
		{LinkedinUrl: &cdv1.LinkedInUrl{Value: "https://www.linkedin.com/in/fanout"}},
	}})
	if err != nil {
		b.Fatal(err)
	}
	id := resp.GetOutput().GetTaskId()

	arrivals := make([]*arrival, total+1)
	for i := range arrivals {
		arrivals[i] = &arrival{done: make(chan struct{})}
		arrivals[i].remaining.Store(watchers)
	}
	watchCtx, stopWatchers := context.WithCancel(ctx)
	defer stopWatchers()
	var ready, running sync.WaitGroup
	errs := make(chan error, watchers)
	ready.Add(watchers)
	running.Add(watchers)
	for w := range watchers {
		go func() {
			defer running.Done()
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
					arrivals[r.GetSequence()].got(now)
				}
			}
			if watchCtx.Err() == nil {
				errs <- err
			}
		}()
	}
	if !waitGroup(&ready, time.Minute) {
		b.Fatal("watchers not ready within a minute")
	}

	latencies := make([]time.Duration, 0, total)
	b.ResetTimer()
	for seq := 1; seq <= total; seq++ {
		up.release()
		select {
		case <-arrivals[seq].done:
		case err := <-errs:
			b.Fatalf("a watcher stopped: %v", err)
		case <-time.After(time.Minute):
			b.Fatalf("result %d did not reach every watcher within a minute", seq)
		}
		latencies = append(latencies, time.Unix(0, arrivals[seq].last.Load()).Sub(timed.storedAt(seq)))
	}
	b.StopTimer()
	stopWatchers()
	if !waitGroup(&running, time.Minute) {
		b.Error("watchers did not stop within a minute")
	}

	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(latencies[len(latencies)-1])/float64(time.Millisecond), "max-ms")
}

// arrival tracks one result's delivery to the watchers.
type arrival struct {
	remaining atomic.Int64  // watchers still to receive it
	last      atomic.Int64  // latest receive time, unix nanoseconds
	done      chan struct{} // closed when remaining reaches 0
}

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

func (u *releasingUpstream) release() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.released++
	close(u.wake)
	u.wake = make(chan struct{})
}

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

func (u *releasingUpstream) Cancel(context.Context, string, string) (*fiber.CancelResponse, error) {
	return nil, errors.New("releasingUpstream: cancel not supported")
}

// fakeStarter answers every start with the same task.
type fakeStarter struct {
	taskID string
	people int
}

func (s fakeStarter) Start(context.Context, string, fiber.StartRequest) (*fiber.StartResponse, error) {
	return &fiber.StartResponse{TaskID: s.taskID, NumPeopleEnqueued: s.people, Charge: fiber.ChargeInfo{Method: "free"}}, nil
}

// timedStore records when each AppendResults that stored results returned, by the sequence
// number of its last result.
type timedStore struct {
	storage.Store

	mu     sync.Mutex // guards stored
	stored map[int]time.Time
}

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
