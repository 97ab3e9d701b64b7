package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

// The saturated-drain scenario: many tasks whose people Fiber has all but finished, so that
// the poll limit alone decides how fast their results come; a few are watched.
const (
	drainTasks   = 50
	drainWatchEv = 5   // every drainWatchEv-th task is watched: 10 of 50, spread over both start windows
	drainPeople  = 400 // Fiber's 2000 scaled down 5×, with the poll count below
	drainPace    = 1000
	drainTimeout = 2 * time.Minute
)

// drainLimits keep the scaled start limit; the poll limit, 600 per minute (Fiber's 240, 2.5×),
// comes in windows of 1s, so that the drain spans 20 of them and the first window's burst
// is a small part of it, and binds well before this 2-core machine does.
var drainLimits = limits{
	start: scaledLimits.start,
	poll:  fiberfake.Rate{N: 10, Per: time.Second},
}

// drainFirstPoll is the server's first-poll delay after a start (tasks.Policy's FirstPoll): a
// task's first wait counts from its start, so it comes on top of the queue's bound.
const drainFirstPoll = time.Second

// documentedWait is the bound internal/budget's documentation gives a task's poll under a
// saturated budget, for the drain's limit: the background (unwatched) lane is granted at least
// one slot in four, so an unwatched task's poll waits at most ⌈4·n/N⌉ windows for n unwatched
// tasks and a limit of N per window; the urgent (watched) lane at least three in four, so a
// watched task's poll waits at most ⌈4·n/(3·N)⌉ windows for n watched tasks. In the drain
// every task has a full page waiting, so its pacer adds no wait between polls, and only the
// first poll's delay comes on top.
func documentedWait(n int, watched bool) time.Duration {
	limit := drainLimits.poll
	slots := 4 * n
	per := limit.N
	if watched {
		per = 3 * limit.N
	}
	windows := (slots + per - 1) / per
	return drainFirstPoll + time.Duration(windows)*limit.Per
}

func drain(ctx context.Context, b *bench) (section, error) {
	ctx, cancel := context.WithTimeout(ctx, drainTimeout)
	defer cancel()
	fakeArgs := append([]string{"-people-per-second", strconv.Itoa(drainPace), "-seed", "1"}, fakeKeys...)
	s, err := b.startStack(append(fakeArgs, drainLimits.args()...), drainLimits.args())
	if err != nil {
		return section{}, err
	}
	defer s.Close()

	b.logf("drain: %d tasks of %d people, %d watched", drainTasks, drainPeople, drainTasks/drainWatchEv)
	ids := make([]string, drainTasks)
	started := make([]time.Time, drainTasks) // answered
	all := make([]time.Time, drainTasks)     // watched: when the watcher had every result
	errs := make([]error, drainTasks)
	var starts, watches sync.WaitGroup
	t0 := time.Now()
	for i := range drainTasks {
		starts.Add(1)
		watches.Go(func() {
			ids[i], errs[i] = s.startTask(ctx, benchURLs("drain", i, drainPeople))
			started[i] = time.Now()
			starts.Done()
			if errs[i] == nil && i%drainWatchEv == 0 {
				all[i], errs[i] = s.watchTask(ctx, ids[i], drainPeople)
			}
		})
	}
	starts.Wait()
	unwatched := map[string]int{}
	for i, id := range ids {
		if errs[i] == nil && i%drainWatchEv != 0 {
			unwatched[id] = drainPeople
		}
	}
	stored, err := s.storedTimes(ctx, unwatched)
	if err != nil {
		cancel() // end the watches too
	}
	watches.Wait()
	for i := range drainTasks {
		if errs[i] != nil {
			return section{}, fmt.Errorf("task %d: %w", i, errs[i])
		}
	}
	if err != nil {
		return section{}, err
	}
	log, err := s.pollLog(ctx)
	if err != nil {
		return section{}, err
	}
	st, err := s.simStats(ctx)
	if err != nil {
		return section{}, err
	}

	// The groups' times to every result, the first poll, and the longest waits between polls.
	var watchedDone, unwatchedDone, lastWatchedStart time.Duration
	for i := range drainTasks {
		if i%drainWatchEv == 0 {
			watchedDone = max(watchedDone, all[i].Sub(t0))
			lastWatchedStart = max(lastWatchedStart, started[i].Sub(t0))
		} else {
			unwatchedDone = max(unwatchedDone, stored[ids[i]].Sub(t0))
		}
	}
	end := t0.Add(max(watchedDone, unwatchedDone))
	watchedID := map[string]bool{}
	for i, id := range ids {
		watchedID[id] = i%drainWatchEv == 0
	}
	var watchedWait, unwatchedWait time.Duration
	var pages fiberfake.PageCounts
	polls, firstPoll := 0, end
	for _, tp := range log {
		polls += len(tp.Polls)
		pages = pages.Add(fiberfake.CountPages(tp.Polls, pageSize))
		if len(tp.Polls) > 0 && tp.Polls[0].At.Before(firstPoll) {
			firstPoll = tp.Polls[0].At
		}
		if watchedID[tp.TaskID] {
			watchedWait = max(watchedWait, longestWait(tp, end))
		} else {
			unwatchedWait = max(unwatchedWait, longestWait(tp, end))
		}
	}
	firstAfter := firstPoll.Sub(t0)

	results := drainTasks * drainPeople
	watchedN := (drainTasks + drainWatchEv - 1) / drainWatchEv
	rate := float64(results) / end.Sub(firstPoll).Minutes()
	idealRate := drainRate(results, drainLimits.poll)
	rateRatio := ratio(rate, idealRate)
	idealWatched := max(firstAfter+drainSpan(watchedN*drainPeople, drainLimits.poll), lastWatchedStart+drainSpan(drainPeople, drainLimits.poll))
	idealUnwatched := firstAfter + drainSpan(results, drainLimits.poll)
	pollsPerSec := float64(drainLimits.poll.N) / drainLimits.poll.Per.Seconds()
	documentedWatchedWait := documentedWait(watchedN, true)
	documentedUnwatchedWait := documentedWait(drainTasks-watchedN, false)
	idealWatchedWait := time.Duration(float64(watchedN) / pollsPerSec * float64(time.Second))
	idealUnwatchedWait := time.Duration(float64(drainTasks) / pollsPerSec * float64(time.Second))
	idealPolls := drainTasks * pagesFor(drainPeople)
	limited := st.Endpoints[fiberfake.EndpointPoll].RateLimited
	return section{
		title: "Saturated drain: the poll limit as the bottleneck",
		setup: fmt.Sprintf("Limits %s. %d tasks of %d people (Fiber's 2000 scaled down with the poll limit), started at once, Fiber finishing %d people/s of each, so that results wait on polls; %d of them (one in %d) watched through WatchTask from their start, the others not.",
			drainLimits, drainTasks, drainPeople, drainPace, watchedN, drainWatchEv),
		rows: []row{
			{
				figure:    "results per minute",
				fibergate: fmt.Sprintf("%.0f", rate),
				ideal:     fmt.Sprintf("%.0f", idealRate),
				ratio:     times(rateRatio),
				goal:      verdict("≥ 0.95×", rateRatio >= 0.95),
			},
			{
				figure:    "upstream polls",
				fibergate: fmt.Sprintf("%d (%v)", polls, pages),
				ideal:     strconv.Itoa(idealPolls),
				ratio:     times(ratio(float64(polls), float64(idealPolls))),
			},
			{
				figure:    fmt.Sprintf("time to every result, %d watched tasks", watchedN),
				fibergate: secs(watchedDone),
				ideal:     secs(idealWatched),
				ratio:     times(ratio(watchedDone.Seconds(), idealWatched.Seconds())),
			},
			{
				figure:    fmt.Sprintf("time to every result, %d unwatched tasks", drainTasks-watchedN),
				fibergate: secs(unwatchedDone),
				ideal:     secs(idealUnwatched),
				ratio:     times(ratio(unwatchedDone.Seconds(), idealUnwatched.Seconds())),
			},
			{
				figure:    "longest wait between two polls, watched task",
				fibergate: secs(watchedWait),
				ideal:     secs(idealWatchedWait),
				ratio:     times(ratio(watchedWait.Seconds(), idealWatchedWait.Seconds())),
				goal:      verdict("≤ "+documentedWatchedWait.String(), watchedWait <= documentedWatchedWait),
			},
			{
				figure:    "longest wait between two polls, unwatched task",
				fibergate: secs(unwatchedWait),
				ideal:     secs(idealUnwatchedWait),
				ratio:     times(ratio(unwatchedWait.Seconds(), idealUnwatchedWait.Seconds())),
				goal:      verdict("≤ "+documentedUnwatchedWait.String(), unwatchedWait <= documentedUnwatchedWait),
			},
			{
				figure:    "upstream 429s",
				fibergate: strconv.Itoa(limited),
				ideal:     "0",
				goal:      verdict("0", limited == 0),
			},
		},
		notes: []string{
			fmt.Sprintf("Results per minute: the %d results over the time from the first poll (%v after the first start was sent) until the last result was stored (unwatched tasks: ListTasks sampled every 100 ms) or received by its watcher. Ideal: %d polls of a full page each, as early as the sliding window allows (%d at once, %d more each %v), %v from the first to the last; in the long run the limit allows %d × %d per %v, %.0f per minute. Polls are full, part or empty as in the poll-efficiency section.",
				results, firstAfter.Round(time.Millisecond), pagesFor(results), drainLimits.poll.N, drainLimits.poll.N, drainLimits.poll.Per,
				drainSpan(results, drainLimits.poll), pageSize, drainLimits.poll.N, drainLimits.poll.Per, resultsPerMinute(drainLimits.poll)),
			fmt.Sprintf("Times run from the first start sent. Their ideals are lower bounds, on the same schedule from the first poll: the watched tasks' pages first (and the last-started watched task's own pages after its start), then every page. Ideal longest wait: the tasks of the group polled in turn at the limit's long-run rate (%d watched, %d in all).",
				watchedN, drainTasks),
			fmt.Sprintf("Longest wait between two polls: from the simulator's log of answered polls, per task, counting the wait from its start to its first poll. Goals: the bound internal/budget documents for a saturated budget, the first poll's delay (%v) plus ⌈4·n/(3·N)⌉ windows for n watched tasks and ⌈4·n/N⌉ for n unwatched ones under a limit of N per window: %v watched and %v unwatched.",
				drainFirstPoll,
				documentedWatchedWait, documentedUnwatchedWait),
		},
	}, nil
}
