package main

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

// Sizes of the scale scenario.
const (
	scaleTasks    = 1000
	scalePeople   = 10       // per task
	scalePace     = 1.0 / 60 // people a task finishes per second: 10 minutes per task
	scaleStarters = 8        // concurrent StartBatch calls
	scaleSettle   = time.Second
	// scaleWindow is each measuring window: one period of the saturated poll budget, which
	// lets 240 polls leave at once and the next 240 a minute plus its margin (600ms) after
	// each of them, so that every such window holds one burst of 240 polls.
	scaleWindow   = time.Minute + 600*time.Millisecond
	scaleStreams  = 10_000
	scaleConns    = 20  // client connections the streams share
	scaleOpeners  = 100 // streams being opened at once
	scalePollRate = 240 // Fiber's default polls per minute, kept
)

// runScale measures what 1,000 running tasks cost the server under Fiber's poll limit, and
// then what 10,000 idle watch streams of them add: CPU, memory, goroutines, store writes per
// poll and log lines.
//
// The tasks are started at a start limit raised far above Fiber's 30 a minute (it would take
// half an hour otherwise); the simulator finishes one person of each task a minute, so every
// task stays running for the whole run and the 240 polls a minute Fiber allows are far fewer
// than the pollers want: the poll budget is saturated throughout, as it would be with 1,000
// slow tasks on one key.
func runScale(ctx context.Context, b *bench) (section, error) {
	s, err := b.startStack(
		[]string{"-start-rate", "unlimited", "-people-per-second", fmt.Sprint(scalePace), "-keys", fiberfake.DemoAPIKey + "=1e9"},
		[]string{"-start-rate", "1000000/1m", "-poll-rate", fmt.Sprintf("%d/1m", scalePollRate),
			"-max-watch-streams", fmt.Sprint(scaleStreams), "-metrics-addr", "127.0.0.1:0"})
	if err != nil {
		return section{}, err
	}
	defer s.Close()
	maddr, err := s.metricsAddr(ctx)
	if err != nil {
		return section{}, err
	}
	b.logf("scale: starting %d tasks of %d people", scaleTasks, scalePeople)
	begin := time.Now()
	ids, err := startTasks(ctx, s.client, scaleTasks, scalePeople)
	if err != nil {
		return section{}, err
	}
	startsTook := time.Since(begin)
	if !sleepCtx(ctx, scaleSettle) {
		return section{}, ctx.Err()
	}

	b.logf("scale: measuring %v with the tasks alone", scaleWindow)
	alone, err := s.measure(ctx, maddr, scaleWindow, nil)
	if err != nil {
		return section{}, err
	}

	b.logf("scale: opening %d watch streams over %d connections", scaleStreams, scaleConns)
	begin = time.Now()
	w, err := openWatches(ctx, s.server.GRPCAddr, ids, scaleStreams, scaleConns)
	if err != nil {
		return section{}, err
	}
	opensTook := time.Since(begin)
	b.logf("scale: measuring %v with the streams open", scaleWindow)
	with, err := s.measure(ctx, maddr, scaleWindow, w)
	if cerr := w.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return section{}, err
	}
	return scaleSection(alone, with, startsTook, opensTook), nil
}

// scaleSection writes the figures.
func scaleSection(alone, with windowFigures, startsTook, opensTook time.Duration) section {
	perMin := func(n int, d time.Duration) float64 { return float64(n) / d.Minutes() }
	pollLines := perMin(alone.logs.total-alone.logs.notPoll, alone.dur)
	var nofile syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile)
	perStream := func(a, b float64) float64 { return (b - a) / scaleStreams }
	var rows []row
	for _, w := range []struct {
		name string
		f    windowFigures
	}{{"tasks alone", alone}, {"with the streams", with}} {
		f := w.f
		quiet := row{figure: fmt.Sprintf("server CPU between polls, %s", w.name), fibergate: quietCPU(f)}
		if w.name == "tasks alone" {
			quiet.goal = verdict("< 5% of a core", f.quiet > 0 && f.quietCPU < 0.05)
		}
		rows = append(rows, quiet,
			row{figure: fmt.Sprintf("server CPU over the window, %s", w.name), fibergate: percent(f.cpu)},
			row{figure: fmt.Sprintf("server RSS, %s", w.name), fibergate: mib(f.rss)},
			row{figure: fmt.Sprintf("server goroutines, %s", w.name), fibergate: fmt.Sprintf("%.0f", f.goroutines)},
			row{figure: fmt.Sprintf("upstream polls per minute, %s", w.name), fibergate: fmt.Sprintf("%.0f", perMin(f.polls, f.dur)), ideal: fmt.Sprint(scalePollRate), ratio: times(perMin(f.polls, f.dur) / scalePollRate)},
			row{figure: fmt.Sprintf("store writes per poll, %s", w.name), fibergate: writesPerPoll(f), ideal: "≤ 1.00"},
			row{figure: fmt.Sprintf("polls the budget refused at once, per minute, %s", w.name), fibergate: fmt.Sprintf("%.0f", perMin(f.fastFails, f.dur)), ideal: "0"},
		)
	}
	rows = append(rows,
		row{figure: "server log lines about polling per minute, tasks alone", fibergate: fmt.Sprintf("%.1f", pollLines), goal: verdict("≤ 1", pollLines <= 1)},
		row{figure: "server RSS per idle stream", fibergate: fmt.Sprintf("%.1f KiB", perStream(float64(alone.rss), float64(with.rss))/1024)},
		row{figure: "server goroutines per idle stream", fibergate: fmt.Sprintf("%.2f", perStream(alone.goroutines, with.goroutines))},
		row{figure: "messages per stream per minute", fibergate: fmt.Sprintf("%.2f", perMin(int(with.messages), with.dur)/scaleStreams)},
	)
	return section{
		title: "Scale: 1,000 running tasks, then 10,000 idle watch streams",
		setup: fmt.Sprintf("%d tasks of %d people started through gRPC in %v (start limits raised to 1,000,000/min and unlimited: Fiber's 30/min would take half an hour); the simulator finishes one person per task a minute, so all stay running; Fiber's %d polls/min on one key, far fewer than the pollers want. Then %d WatchTask streams, %d per task, over %d connections, opened in %v. Each window lasts %v, one period of the saturated poll budget.",
			scaleTasks, scalePeople, startsTook.Round(100*time.Millisecond), scalePollRate, scaleStreams, scaleStreams/scaleTasks, scaleConns, opensTook.Round(100*time.Millisecond), scaleWindow),
		rows: rows,
		notes: []string{
			"CPU is the server process's utime+stime (/proc/PID/stat) divided by the time, in % of one core, looked at every second; \"between polls\" sums the seconds in which the simulator answered no poll, nor in the second before (the budget lets the 240 polls of a minute leave together, so most of the window is between polls); \"over the window\" includes the burst. RSS is VmRSS (/proc/PID/status) at the window's end; goroutines are go_goroutines from the server's -metrics-addr; polls are the simulator's answered polls; refused polls are fibergate_budget_fast_failures_total{endpoint=\"poll\"}. Store writes are the tasks whose update_time (ListTasks) falls in the window, each counting once: a task is rarely polled twice in a window of 240 polls over 1,000 tasks, so this is close to the writes and never above them. A poll that brings nothing new writes nothing.",
			fmt.Sprintf("Log lines, tasks alone: %s. Counted as about polling: every line but the budget's summaries of the start and cancel endpoints. With the streams: %s.", alone.logs, with.logs),
			fmt.Sprintf("Operator settings for the streams: -max-watch-streams %d (the default allows 100 per caller; without authentication all callers are one). %d connections of %d streams stay under -max-streams-per-conn's default 1,000 and use %d descriptors of the server's file limit (ulimit -n %d here, left as it is). Per-stream figures are the differences between the two windows. The streams are the bench's own clients, on the same cores.",
				scaleStreams, scaleConns, scaleStreams/scaleConns, scaleConns, nofile.Cur),
		},
	}
}

// quietCPU formats the CPU between polls and how long that was.
func quietCPU(f windowFigures) string {
	if f.quiet == 0 {
		return "no second without a poll"
	}
	return fmt.Sprintf("%s (%v without polls)", percent(f.quietCPU), f.quiet.Round(time.Second))
}

func percent(share float64) string { return fmt.Sprintf("%.2f%% of a core", 100*share) }

func writesPerPoll(w windowFigures) string {
	if w.polls == 0 {
		return "no polls"
	}
	return fmt.Sprintf("%.2f (%d tasks written, %d results, %d polls)", float64(w.writes)/float64(w.polls), w.writes, w.results, w.polls)
}

// startTasks starts n tasks of people each through c, scaleStarters at a time, and returns
// their ids.
func startTasks(ctx context.Context, c cdv1.ContactDetailsServiceClient, n, people int) ([]string, error) {
	ids := make([]string, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(scaleStarters)
	for i := range n {
		g.Go(func() error {
			cctx, cancel := context.WithTimeout(gctx, 30*time.Second)
			defer cancel()
			req := &cdv1.StartBatchRequest{PersonDetails: make([]*cdv1.PersonDetails, people)}
			for j, u := range peopleURLs(fmt.Sprintf("scale-%d", i), people) {
				req.PersonDetails[j] = &cdv1.PersonDetails{LinkedinUrl: &cdv1.LinkedInUrl{Value: u}}
			}
			resp, err := c.StartBatch(cctx, req)
			if err != nil {
				return fmt.Errorf("start task %d: %w", i, err)
			}
			ids[i] = resp.GetOutput().GetTaskId()
			return nil
		})
	}
	return ids, g.Wait()
}

// sleepCtx waits d; false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
