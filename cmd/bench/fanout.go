package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

// The fan-out scenario: K consumers want every result of one task. Without fibergate each polls
// Fiber itself every fanoutEvery; with it, each watches the task (WatchTask) and fibergate
// polls once for all of them.
const (
	fanoutConsumers = 20
	fanoutPeople    = 500
	fanoutPace      = 50 // people Fiber finishes per second: the task takes 10 s
	fanoutEvery     = 2 * time.Second
	fanoutTimeout   = 90 * time.Second // each side
)

// fanoutRun is what one side measured.
type fanoutRun struct {
	last          time.Duration // from the start's answer until the last consumer had every result
	polls, limits int           // upstream polls, and 429s among them
}

func fanout(ctx context.Context, b *bench) (section, error) {
	fakeArgs := append([]string{"-people-per-second", strconv.Itoa(fanoutPace), "-seed", "1"}, fakeKeys...)
	fakeArgs = append(fakeArgs, scaledLimits.args()...)

	b.logf("fanout: %d consumers polling Fiber every %v", fanoutConsumers, fanoutEvery)
	naive, err := fanoutNaive(ctx, b, fakeArgs)
	if err != nil {
		return section{}, fmt.Errorf("naive consumers: %w", err)
	}
	b.logf("fanout: %d WatchTask streams through fibergate", fanoutConsumers)
	gate, err := fanoutGate(ctx, b, fakeArgs)
	if err != nil {
		return section{}, fmt.Errorf("through fibergate: %w", err)
	}

	idealTime := time.Duration(float64(fanoutPeople) / fanoutPace * float64(time.Second))
	idealPolls := pagesFor(fanoutPeople)
	vsNaive := ratio(gate.last.Seconds(), naive.last.Seconds())
	return section{
		title: "Fan-out: one task, many consumers",
		setup: fmt.Sprintf("Limits %s. One task of %d people, finished by Fiber at %d people/s; %d consumers: without fibergate each polls Fiber itself every %v (staggered evenly, paging on while pages come back full); with it each holds a WatchTask stream.",
			scaledLimits, fanoutPeople, fanoutPace, fanoutConsumers, fanoutEvery),
		rows: []row{
			{
				figure:    "time until the last consumer has every result",
				fibergate: secs(gate.last),
				baseline:  secs(naive.last),
				ideal:     secs(idealTime),
				ratio:     fmt.Sprintf("%s ideal, %s naive", times(ratio(gate.last.Seconds(), idealTime.Seconds())), times(vsNaive)),
				goal:      verdict("≤ 1.0× naive", vsNaive <= 1.0),
			},
			{
				figure:    "upstream polls",
				fibergate: strconv.Itoa(gate.polls),
				baseline:  strconv.Itoa(naive.polls),
				ideal:     strconv.Itoa(idealPolls),
				ratio:     fmt.Sprintf("%s ideal; naive: %.0f× as many", times(ratio(float64(gate.polls), float64(idealPolls))), ratio(float64(naive.polls), float64(gate.polls))),
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
			fmt.Sprintf("Ideal time: Fiber finishes the last person %d/%d s after the start, and no consumer can have it sooner. Ideal polls: one full page of %d per poll, %d for %d people. Times run from the start's answer.",
				fanoutPeople, fanoutPace, pageSize, idealPolls, fanoutPeople),
		},
	}, nil
}

// fanoutNaive starts the task on a simulator of its own and runs the polling consumers.
func fanoutNaive(ctx context.Context, b *bench, fakeArgs []string) (fanoutRun, error) {
	ctx, cancel := context.WithTimeout(ctx, fanoutTimeout)
	defer cancel()
	s, err := b.startFake(fakeArgs...)
	if err != nil {
		return fanoutRun{}, err
	}
	defer s.Close()
	c := newNaiveClient(s.fiberURL())
	defer c.close()

	id, limited, err := c.start(ctx, benchURLs("fanout", 0, fanoutPeople))
	if err == nil && limited {
		err = fmt.Errorf("start refused with 429")
	}
	if err != nil {
		return fanoutRun{}, err
	}
	t0 := time.Now()
	lasts := make([]time.Duration, fanoutConsumers)
	errs := make([]error, fanoutConsumers)
	var wg sync.WaitGroup
	for i := range fanoutConsumers {
		wg.Go(func() {
			phase := time.Duration(i) * fanoutEvery / fanoutConsumers
			var at time.Time
			at, errs[i] = naiveConsumer(ctx, c, id, t0.Add(phase))
			lasts[i] = at.Sub(t0)
		})
	}
	wg.Wait()
	run := fanoutRun{}
	for i := range fanoutConsumers {
		if errs[i] != nil {
			return run, fmt.Errorf("consumer %d: %w", i, errs[i])
		}
		run.last = max(run.last, lasts[i])
	}
	st, err := s.simStats(ctx)
	if err != nil {
		return run, err
	}
	run.polls, run.limits = st.Endpoints[fiberfake.EndpointPoll].Calls, st.Endpoints[fiberfake.EndpointPoll].RateLimited
	return run, nil
}

// naiveConsumer polls task id every fanoutEvery from first on, reading pages while they come
// back full, until it has every result; it returns when it had them. A 429 ends that round.
func naiveConsumer(ctx context.Context, c *naiveClient, id string, first time.Time) (time.Time, error) {
	var r pageReader
	tick := time.NewTimer(time.Until(first))
	defer tick.Stop()
	for next := first; ; { // bounded by ctx
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%d of %d results: %w", r.got, fanoutPeople, ctx.Err())
		case <-tick.C:
		}
		for range pagesFor(fanoutPeople) + 1 { // one round: at most every page once
			p, limited, err := c.poll(ctx, id, r.cursor)
			if err != nil {
				return time.Time{}, err
			}
			if limited || !r.read(p) || r.got >= fanoutPeople {
				break
			}
		}
		if r.got >= fanoutPeople {
			return time.Now(), nil
		}
		next = next.Add(fanoutEvery)
		tick.Reset(time.Until(next))
	}
}

// fanoutGate starts the task through fibergate and runs the watching consumers.
func fanoutGate(ctx context.Context, b *bench, fakeArgs []string) (fanoutRun, error) {
	ctx, cancel := context.WithTimeout(ctx, fanoutTimeout)
	defer cancel()
	s, err := b.startStack(fakeArgs, scaledLimits.args())
	if err != nil {
		return fanoutRun{}, err
	}
	defer s.Close()

	id, err := s.startTask(ctx, benchURLs("fanout", 0, fanoutPeople))
	if err != nil {
		return fanoutRun{}, err
	}
	t0 := time.Now()
	alls := make([]time.Time, fanoutConsumers)
	errs := make([]error, fanoutConsumers)
	var wg sync.WaitGroup
	for i := range fanoutConsumers {
		wg.Go(func() { alls[i], errs[i] = s.watchTask(ctx, id, fanoutPeople) })
	}
	wg.Wait() // every stream ends after the task did: its poller is done
	run := fanoutRun{}
	for i := range fanoutConsumers {
		if errs[i] != nil {
			return run, fmt.Errorf("consumer %d: %w", i, errs[i])
		}
		run.last = max(run.last, alls[i].Sub(t0))
	}
	st, err := s.simStats(ctx)
	if err != nil {
		return run, err
	}
	run.polls, run.limits = st.Endpoints[fiberfake.EndpointPoll].Calls, st.Endpoints[fiberfake.EndpointPoll].RateLimited
	return run, nil
}
