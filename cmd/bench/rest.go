package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// Load of the REST vs gRPC scenario.
const (
	restConcurrency = 16
	restDuration    = 10 * time.Second
	restWarmup      = 2 * time.Second
	// restMaxCalls bounds each worker's loop, whatever the duration.
	restMaxCalls = 1 << 22
)

// runREST compares unary GetTask through the REST gateway with the same call over gRPC: the
// same task, the same number of concurrent callers for the same time, each calling again as
// soon as its answer is read. The task is finished before the load starts, so nothing else
// runs in the server meanwhile.
func runREST(ctx context.Context, b *bench) (section, error) {
	s, err := b.startStack([]string{"-people-per-second", "inf"}, nil)
	if err != nil {
		return section{}, err
	}
	defer s.Close()
	id, err := finishedTask(ctx, s.client)
	if err != nil {
		return section{}, err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: restConcurrency}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	url := "http://" + s.server.HTTPAddr + "/v1/contact-details/batch/" + id
	overGRPC := func(ctx context.Context) error {
		_, err := s.client.GetTask(ctx, &cdv1.GetTaskRequest{TaskId: id})
		return err
	}
	overREST := func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
	b.logf("rest: warming up, then %v of gRPC and %v of REST at %d concurrent callers", restDuration, restDuration, restConcurrency)
	loadFor(ctx, restConcurrency, restWarmup, overGRPC)
	loadFor(ctx, restConcurrency, restWarmup, overREST)
	g := loadFor(ctx, restConcurrency, restDuration, overGRPC)
	r := loadFor(ctx, restConcurrency, restDuration, overREST)
	for _, l := range []struct {
		name string
		res  loadResult
	}{{"gRPC", g}, {"REST", r}} {
		if l.res.errors > 0 {
			return section{}, fmt.Errorf("%s: %d of %d calls failed, the first: %w", l.name, l.res.errors, l.res.calls(), l.res.firstErr)
		}
	}
	share := r.perSecond() / g.perSecond()
	return section{
		title: "REST vs gRPC: unary GetTask",
		setup: fmt.Sprintf("GetTask of one finished task, %d concurrent callers for %v each way after a %v warm-up; gRPC over one HTTP/2 connection, REST (GET /v1/contact-details/batch/{task_id}) over a pool of %d HTTP/1.1 keep-alive connections.", restConcurrency, restDuration, restWarmup, restConcurrency),
		rows: []row{
			{figure: "gRPC throughput", fibergate: fmt.Sprintf("%.0f req/s", g.perSecond())},
			{figure: "REST throughput", fibergate: fmt.Sprintf("%.0f req/s", r.perSecond()), ideal: fmt.Sprintf("%.0f req/s (gRPC's)", g.perSecond()), ratio: times(share), goal: verdict("≥ 0.50×", share >= 0.5)},
			{figure: "gRPC latency p50 / p99", fibergate: millis(quantile(g.took, 0.5)) + " / " + millis(quantile(g.took, 0.99))},
			{figure: "REST latency p50 / p99", fibergate: millis(quantile(r.took, 0.5)) + " / " + millis(quantile(r.took, 0.99)), ideal: millis(quantile(g.took, 0.5)) + " / " + millis(quantile(g.took, 0.99)), ratio: times(ratio(float64(quantile(r.took, 0.99)), float64(quantile(g.took, 0.99)))) + " (p99)"},
		},
		notes: []string{
			"The load is a Go loop in cmd/bench for both sides rather than ghz and hey: the same client machinery, clock and quantiles on both sides, nothing to install or pin, and no third tool competing for the 2 cores in another way. REST goes through the gateway, which calls the same gRPC service in-process; its ideal is gRPC's figure. The clients run on the same cores as the server.",
		},
	}, nil
}

// finishedTask starts a one-person task and waits (at most 30s) until it has succeeded.
func finishedTask(ctx context.Context, c cdv1.ContactDetailsServiceClient) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := c.StartBatch(ctx, &cdv1.StartBatchRequest{PersonDetails: []*cdv1.PersonDetails{
		{LinkedinUrl: &cdv1.LinkedInUrl{Value: "https://www.linkedin.com/in/rest-bench"}},
	}})
	if err != nil {
		return "", fmt.Errorf("start: %w", err)
	}
	id := resp.GetOutput().GetTaskId()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		t, err := c.GetTask(ctx, &cdv1.GetTaskRequest{TaskId: id})
		if err != nil {
			return "", fmt.Errorf("get task: %w", err)
		}
		if t.GetTask().GetState() == cdv1.TaskState_TASK_STATE_SUCCEEDED {
			return id, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("task %s not succeeded within 30s: %s", id, t.GetTask().GetState())
		case <-tick.C:
		}
	}
}

// loadResult is what a load produced.
type loadResult struct {
	took     []time.Duration // of the calls that succeeded
	errors   int
	firstErr error
	elapsed  time.Duration
}

func (r loadResult) calls() int { return len(r.took) + r.errors }

// perSecond is the rate of successful calls.
func (r loadResult) perSecond() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(len(r.took)) / r.elapsed.Seconds()
}

// loadFor runs call in a loop on n goroutines for d (or until ctx ends), each call with a
// deadline of 10s. Calls in flight at the end of d complete and count.
func loadFor(ctx context.Context, n int, d time.Duration, call func(context.Context) error) loadResult {
	end := time.Now().Add(d)
	var (
		mu  sync.Mutex // guards res
		res loadResult
		wg  sync.WaitGroup
	)
	begin := time.Now()
	for range n {
		wg.Go(func() {
			var took []time.Duration
			var errs int
			var first error
			for range restMaxCalls {
				if ctx.Err() != nil || !time.Now().Before(end) {
					break
				}
				cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
				t0 := time.Now()
				err := call(cctx)
				dt := time.Since(t0)
				ccancel()
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
					continue
				}
				took = append(took, dt)
			}
			mu.Lock()
			defer mu.Unlock()
			res.took = append(res.took, took...)
			res.errors += errs
			if res.firstErr == nil {
				res.firstErr = first
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(begin)
	return res
}
