package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

// The poll-efficiency scenario: tasks of two sizes, started together under a poll limit that
// does not bind, some watched and some not; how many results each upstream poll brings.
const (
	polleffPerGroup = 4   // tasks of each size, watched and unwatched alike
	polleffPace     = 120 // people Fiber finishes per second: about 4 s for 500, 17 s for 2000
	polleffTimeout  = 2 * time.Minute
)

// polleffGroup is one size of task, watched or not, and what its goal is.
type polleffGroup struct {
	people  int
	watched bool
	goal    float64 // results per poll, at least
}

var polleffGroups = []polleffGroup{
	{people: 500, watched: true, goal: 97},
	{people: 500, watched: false, goal: 97},
	{people: 2000, watched: true, goal: 99},
	{people: 2000, watched: false, goal: 99},
}

func (g polleffGroup) String() string {
	w := "unwatched"
	if g.watched {
		w = "watched"
	}
	return fmt.Sprintf("%d-person tasks, %s", g.people, w)
}

func pollEfficiency(ctx context.Context, b *bench) (section, error) {
	ctx, cancel := context.WithTimeout(ctx, polleffTimeout)
	defer cancel()
	fakeArgs := append([]string{"-people-per-second", strconv.Itoa(polleffPace), "-seed", "1"}, fakeKeys...)
	s, err := b.startStack(append(fakeArgs, scaledLimits.args()...), scaledLimits.args())
	if err != nil {
		return section{}, err
	}
	defer s.Close()

	b.logf("polleff: %d tasks of each of %d groups", polleffPerGroup, len(polleffGroups))
	type task struct {
		id    string
		group int
		err   error
	}
	tasks := make([]task, polleffPerGroup*len(polleffGroups))
	var wg sync.WaitGroup
	for i := range tasks {
		g := polleffGroups[i%len(polleffGroups)]
		tasks[i].group = i % len(polleffGroups)
		wg.Go(func() {
			tasks[i].id, tasks[i].err = s.startTask(ctx, benchURLs("polleff", i, g.people))
			if tasks[i].err == nil && g.watched {
				_, tasks[i].err = s.watchTask(ctx, tasks[i].id, g.people)
			}
		})
	}
	wg.Wait()
	unwatched := map[string]int{}
	for _, t := range tasks {
		if t.err != nil {
			return section{}, t.err
		}
		if g := polleffGroups[t.group]; !g.watched {
			unwatched[t.id] = g.people
		}
	}
	if _, err := s.storedTimes(ctx, unwatched); err != nil {
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

	polls := map[string]int{}
	pages := map[string]fiberfake.PageCounts{}
	for _, tp := range log {
		polls[tp.TaskID] = len(tp.Polls)
		pages[tp.TaskID] = fiberfake.CountPages(tp.Polls, pageSize)
	}
	sec := section{
		title: "Poll efficiency: results per upstream poll",
		setup: fmt.Sprintf("Limits %s (not binding here). %d tasks of each group started together, finished by Fiber at %d people/s each; the watched ones each have a WatchTask stream from their start on.",
			scaledLimits, polleffPerGroup, polleffPace),
		notes: []string{
			fmt.Sprintf("Ideal: every poll brings a full page of %d (Fiber's largest), so a task of n people costs ⌈n/%d⌉ polls. Results per poll: the groups' people divided by the polls the simulator answered for their tasks; a poll is full when it brought a whole page of results no earlier poll of its task had brought, part when it brought fewer, empty when none. Upstream 429s: %d.",
				pageSize, pageSize, st.Endpoints[fiberfake.EndpointPoll].RateLimited),
			fmt.Sprintf("Fiber's pace, %d people a second, is not one page per first-poll delay (1s): at exactly 100 a second, a watched task's first poll can find exactly a page finished, which the simulator answers, as Fiber's contract allows, with a null nextCursor, so the next poll reads that page again (one poll more for that task; fibergate does not know the key's pace yet when it polls a task first).",
				polleffPace),
		},
	}
	for gi, g := range polleffGroups {
		people, n := 0, 0
		var pc fiberfake.PageCounts
		for _, t := range tasks {
			if t.group == gi {
				people += g.people
				n += polls[t.id]
				pc = pc.Add(pages[t.id])
			}
		}
		per := ratio(float64(people), float64(n))
		sec.rows = append(sec.rows, row{
			figure:    "results per poll, " + g.String(),
			fibergate: fmt.Sprintf("%.1f (%d polls: %v)", per, n, pc),
			ideal:     fmt.Sprintf("%d (%d polls)", pageSize, polleffPerGroup*pagesFor(g.people)),
			ratio:     times(per / pageSize),
			goal:      verdict(fmt.Sprintf("≥ %g", g.goal), per >= g.goal),
		})
	}
	return sec, nil
}
