package main

import (
	"fmt"
	"math"
	"time"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

// pageSize is Fiber's largest poll page, which every ideal assumes each poll brings.
const pageSize = 100

// limits are one scenario's scaled Fiber limits, given alike to its simulators (which enforce
// them) and to its server (which keeps to them).
type limits struct {
	start, poll fiberfake.Rate
}

// scaledLimits are Fiber's per-minute limits (30 starts, 240 polls) scaled ten times down in
// time, as scripts/cluster.sh scales them.
var scaledLimits = limits{
	start: fiberfake.Rate{N: 30, Per: 6 * time.Second},
	poll:  fiberfake.Rate{N: 240, Per: 6 * time.Second},
}

// args are the flags that set l, the same for the simulator and the server.
func (l limits) args() []string {
	return []string{"-start-rate", l.start.String(), "-poll-rate", l.poll.String()}
}

// String says it for a setup line.
func (l limits) String() string {
	return fmt.Sprintf("start %s, poll %s", l.start, l.poll)
}

// backlogTime is when the last of n calls sent together is answered under the sliding window
// r, each answered lat after it leaves: call k (from 0) can leave at floor(k/N)·Per, once the
// window has room for it.
func backlogTime(n int, r fiberfake.Rate, lat time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration((n-1)/r.N)*r.Per + lat
}

// pagesFor is the fewest polls that fetch people results: full pages, the last one the rest.
func pagesFor(people int) int {
	return (people + pageSize - 1) / pageSize
}

// resultsPerMinute is the rate r allows in the long run: a full page per poll, N polls per Per.
func resultsPerMinute(r fiberfake.Rate) float64 {
	return pageSize * float64(r.N) * float64(time.Minute) / float64(r.Per)
}

// drainSpan is the least time from the first to the last of the polls that fetch results
// under the sliding window r: full pages, N of them at once and N more each Per.
func drainSpan(results int, r fiberfake.Rate) time.Duration {
	return backlogTime(pagesFor(results), r, 0)
}

// drainRate is the most results per minute r allows for a drain of results, measured from the
// first poll to the last: over a few windows it is above resultsPerMinute, since the first
// window's polls go at once.
func drainRate(results int, r fiberfake.Rate) float64 {
	span := drainSpan(results, r)
	if span <= 0 {
		return math.Inf(1)
	}
	return float64(results) / span.Minutes()
}

// longestWait is the longest a task went unpolled: from its start to its first poll, or
// between two polls. The time after its last poll does not count; a task never polled
// waited until end.
func longestWait(tp fiberfake.TaskPolls, end time.Time) time.Duration {
	if len(tp.Polls) == 0 {
		return end.Sub(tp.StartedAt)
	}
	longest, prev := time.Duration(0), tp.StartedAt
	for _, p := range tp.Polls {
		longest = max(longest, p.At.Sub(prev))
		prev = p.At
	}
	return longest
}

// ratio is a/b, +Inf when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return math.Inf(1)
	}
	return a / b
}

// verdict says whether a figure meets its goal, for the goal cell.
func verdict(goal string, met bool) string {
	if met {
		return goal + ": met"
	}
	return goal + ": **missed**"
}

// secs formats a duration in seconds, two decimals.
func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// times formats a ratio such as "1.02×".
func times(x float64) string { return fmt.Sprintf("%.2f×", x) }
