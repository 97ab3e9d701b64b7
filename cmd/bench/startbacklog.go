package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

// The start-backlog scenario: backlogStarts starts sent at once against the start limit.
// Without fibergate each is sent straight to Fiber and retried on 429 after a backoff; with
// it, fibergate queues them and sends each when the limit has room.
const (
	backlogStarts  = 90
	backlogPeople  = 10 // per start: the scenario is about the start limit, not the payload
	backlogTimeout = 2 * time.Minute
	// The naive client's retry: after naiveRetryMin, doubling to naiveRetryMax, ±20% jitter,
	// at most naiveAttempts sends.
	naiveRetryMin = time.Second
	naiveRetryMax = 8 * time.Second
	naiveAttempts = 12
)

// backlogRun is what one side measured.
type backlogRun struct {
	all    time.Duration   // from the first send until every start was accepted
	firsts []time.Duration // fibergate: the first window's answers, from the first send: each start's latency
	limits int             // upstream 429s
	starts int             // upstream start calls
}

func startBacklog(ctx context.Context, b *bench) (section, error) {
	fakeArgs := append(append([]string{"-seed", "1"}, fakeKeys...), scaledLimits.args()...)
	b.logf("startbacklog: %d starts straight to Fiber, retrying on 429", backlogStarts)
	naive, err := backlogNaive(ctx, b, fakeArgs)
	if err != nil {
		return section{}, fmt.Errorf("naive client: %w", err)
	}
	b.logf("startbacklog: %d starts through fibergate", backlogStarts)
	gate, err := backlogGate(ctx, b, fakeArgs)
	if err != nil {
		return section{}, fmt.Errorf("through fibergate: %w", err)
	}

	lat := median(gate.firsts)
	ideal := backlogTime(backlogStarts, scaledLimits.start, lat)
	r := ratio(gate.all.Seconds(), ideal.Seconds())
	lastWave := (backlogStarts-1)/scaledLimits.start.N*scaledLimits.start.N + 1 // the first start of the last window
	return section{
		title: "Start backlog: a burst of starts against the start limit",
		setup: fmt.Sprintf("Limits %s. %d starts of %d people each, sent at once. Without fibergate: straight to Fiber, a 429 retried after %v, doubling to %v, ±20%% jitter. With fibergate: %d concurrent StartBatch calls.",
			scaledLimits, backlogStarts, backlogPeople, naiveRetryMin, naiveRetryMax, backlogStarts),
		rows: []row{
			{
				figure:    "time until every start is accepted",
				fibergate: secs(gate.all),
				baseline:  secs(naive.all),
				ideal:     secs(ideal),
				ratio:     fmt.Sprintf("%s ideal, %s naive", times(r), times(ratio(gate.all.Seconds(), naive.all.Seconds()))),
				goal:      verdict("≤ 1.03× ideal", r <= 1.03),
			},
			{
				figure:    "upstream start calls",
				fibergate: strconv.Itoa(gate.starts),
				baseline:  strconv.Itoa(naive.starts),
				ideal:     strconv.Itoa(backlogStarts),
				ratio:     times(ratio(float64(gate.starts), backlogStarts)),
			},
			{
				figure:    "upstream 429s",
				fibergate: strconv.Itoa(gate.limits),
				baseline:  strconv.Itoa(naive.limits),
				ideal:     "0",
				goal:      verdict("0", gate.limits == 0),
			},
		},
		notes: []string{
			fmt.Sprintf("Ideal: under a sliding window of %d per %v, %d starts can leave at once and start %d at %v; every start is then accepted at %v plus one start's latency through fibergate (%v, the median of the first window's %d starts, which did not wait). Times run from the first send.",
				scaledLimits.start.N, scaledLimits.start.Per, scaledLimits.start.N, lastWave, backlogTime(backlogStarts, scaledLimits.start, 0),
				backlogTime(backlogStarts, scaledLimits.start, 0), lat.Round(time.Millisecond), len(gate.firsts)),
		},
	}, nil
}

// backlogNaive sends the starts straight to a simulator of its own, retrying each on 429.
func backlogNaive(ctx context.Context, b *bench, fakeArgs []string) (backlogRun, error) {
	ctx, cancel := context.WithTimeout(ctx, backlogTimeout)
	defer cancel()
	s, err := b.startFake(fakeArgs...)
	if err != nil {
		return backlogRun{}, err
	}
	defer s.Close()
	c := newNaiveClient(s.fiberURL())
	defer c.close()

	done := make([]time.Time, backlogStarts)
	errs := make([]error, backlogStarts)
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := range backlogStarts {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(1, uint64(i)))
			done[i], errs[i] = naiveStart(ctx, c, benchURLs("backlog", i, backlogPeople), rng)
		})
	}
	wg.Wait()
	run := backlogRun{}
	for i := range backlogStarts {
		if errs[i] != nil {
			return run, fmt.Errorf("start %d: %w", i, errs[i])
		}
		run.all = max(run.all, done[i].Sub(t0))
	}
	st, err := s.simStats(ctx)
	if err != nil {
		return run, err
	}
	run.starts, run.limits = st.Endpoints[fiberfake.EndpointStart].Calls, st.Endpoints[fiberfake.EndpointStart].RateLimited
	return run, nil
}

// naiveStart sends one start until it is accepted, backing off after each 429, and returns
// when it was.
func naiveStart(ctx context.Context, c *naiveClient, urls []string, rng *rand.Rand) (time.Time, error) {
	wait := naiveRetryMin
	for range naiveAttempts {
		_, limited, err := c.start(ctx, urls)
		if err != nil {
			return time.Time{}, err
		}
		if !limited {
			return time.Now(), nil
		}
		jittered := time.Duration(float64(wait) * (0.8 + 0.4*rng.Float64()))
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(jittered):
		}
		wait = min(2*wait, naiveRetryMax)
	}
	return time.Time{}, fmt.Errorf("still refused after %d attempts", naiveAttempts)
}

// backlogGate sends the starts through fibergate.
func backlogGate(ctx context.Context, b *bench, fakeArgs []string) (backlogRun, error) {
	ctx, cancel := context.WithTimeout(ctx, backlogTimeout)
	defer cancel()
	s, err := b.startStack(fakeArgs, scaledLimits.args())
	if err != nil {
		return backlogRun{}, err
	}
	defer s.Close()

	answered := make([]time.Duration, backlogStarts) // from the first send
	errs := make([]error, backlogStarts)
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := range backlogStarts {
		wg.Go(func() {
			_, errs[i] = s.startTask(ctx, benchURLs("backlog", i, backlogPeople))
			answered[i] = time.Since(t0)
		})
	}
	wg.Wait()
	run := backlogRun{}
	for i := range backlogStarts {
		if errs[i] != nil {
			return run, fmt.Errorf("start %d: %w", i, errs[i])
		}
		run.all = max(run.all, answered[i])
	}
	slices.Sort(answered)
	run.firsts = answered[:min(scaledLimits.start.N, len(answered))]
	st, err := s.simStats(ctx)
	if err != nil {
		return run, err
	}
	run.starts, run.limits = st.Endpoints[fiberfake.EndpointStart].Calls, st.Endpoints[fiberfake.EndpointStart].RateLimited
	return run, nil
}

// median of ds, 0 for none. ds may be reordered.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}
