package main

import (
	"context"
	"fmt"
	"time"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

// windowFigures is what the server did during one measuring window.
type windowFigures struct {
	dur        time.Duration
	cpu        float64       // share of one core over the window
	quietCPU   float64       // share of one core over the quiet seconds (see quietShare)
	quiet      time.Duration // the quiet seconds' total
	rss        int64
	goroutines float64
	polls      int // answered by the simulator
	fastFails  int // polls the budget refused at once
	writes     int // tasks whose update_time falls in the window
	results    int // stored during the window
	logs       logTally
	messages   int64 // received by the watch streams during the window, if any
}

// tick is one look at the server and the simulator during a window.
type tick struct {
	proc  procSample
	polls int // the simulator's answered polls so far
}

// measure watches the server for d, looking every second. w, when not nil, are watch
// streams whose messages are counted. What asks the server itself something (its task list,
// its metrics) is done before and after the window, not during it.
func (s *stack) measure(ctx context.Context, metricsAddr string, d time.Duration, w *watches) (windowFigures, error) {
	var f windowFigures
	tasks0, err := s.listTasks(ctx)
	if err != nil {
		return f, err
	}
	fams0, err := scrapeMetrics(ctx, metricsAddr)
	if err != nil {
		return f, err
	}
	lines0 := len(s.logLines())
	var msgs0 int64
	if w != nil {
		msgs0 = w.messages.Load()
	}
	var ticks []tick
	look := func() error {
		st, err := s.simStats(ctx)
		if err != nil {
			return err
		}
		p, err := sampleProc(s.server.Pid())
		if err != nil {
			return err
		}
		ticks = append(ticks, tick{proc: p, polls: st.Endpoints[fiberfake.EndpointPoll].OK})
		return nil
	}
	if err := look(); err != nil {
		return f, err
	}
	for end := ticks[0].proc.at.Add(d); ; {
		left := time.Until(end)
		if left <= 0 {
			break
		}
		if !sleepCtx(ctx, min(left, time.Second)) {
			return f, ctx.Err()
		}
		if err := look(); err != nil {
			return f, err
		}
	}
	first, last := ticks[0], ticks[len(ticks)-1]
	if w != nil {
		f.messages = w.messages.Load() - msgs0
	}
	f.logs = tallyLogs(s.logLines()[lines0:])
	f.dur, f.cpu, f.rss = last.proc.at.Sub(first.proc.at), cpuShare(first.proc, last.proc), last.proc.rss
	f.quietCPU, f.quiet = quietShare(ticks)
	f.polls = last.polls - first.polls
	fams, err := scrapeMetrics(ctx, metricsAddr)
	if err != nil {
		return f, err
	}
	var ok bool
	if f.goroutines, ok = metricValue(fams, "go_goroutines"); !ok {
		return f, fmt.Errorf("no go_goroutines in the server's metrics")
	}
	const fastFails = "fibergate_budget_fast_failures_total"
	ff0, ok0 := metricValue(fams0, fastFails, "endpoint=poll")
	ff1, ok1 := metricValue(fams, fastFails, "endpoint=poll")
	if !ok0 || !ok1 {
		return f, fmt.Errorf("no %s in the server's metrics", fastFails)
	}
	f.fastFails = int(ff1 - ff0)
	tasks1, err := s.listTasks(ctx)
	if err != nil {
		return f, err
	}
	f.writes = updatedBetween(tasks1, first.proc.at, last.proc.at)
	f.results = storedResults(tasks1) - storedResults(tasks0)
	return f, nil
}

// quietShare is the share of one core used during the quiet intervals between ticks: those
// with no poll answered in them nor in the interval before (the work a poll's answer causes
// may outlast it), with the total length of those intervals. 0, 0 if there are none.
func quietShare(ticks []tick) (float64, time.Duration) {
	var cpu, wall time.Duration
	for i := 2; i < len(ticks); i++ {
		if ticks[i].polls != ticks[i-1].polls || ticks[i-1].polls != ticks[i-2].polls {
			continue
		}
		cpu += ticks[i].proc.cpu - ticks[i-1].proc.cpu
		wall += ticks[i].proc.at.Sub(ticks[i-1].proc.at)
	}
	if wall <= 0 {
		return 0, 0
	}
	return float64(cpu) / float64(wall), wall
}

// storedResults is the results stored for tasks.
func storedResults(tasks []*cdv1.Task) int {
	n := 0
	for _, t := range tasks {
		n += int(t.GetNumResults())
	}
	return n
}

// updatedBetween counts the tasks last updated between from and to.
func updatedBetween(tasks []*cdv1.Task, from, to time.Time) int {
	n := 0
	for _, t := range tasks {
		if u := t.GetUpdateTime().AsTime(); !u.Before(from) && !u.After(to) {
			n++
		}
	}
	return n
}
