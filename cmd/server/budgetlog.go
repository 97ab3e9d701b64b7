package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
)

// reportBudget logs the Fiber budget every interval, one line per endpoint at most, until ctx
// ends. An endpoint whose calls have queued without a break for a window of its limit or
// longer (demand exceeds the limit: it is saturated, a normal state for a busy key) gets
// "fiber budget saturated", with the calls queued now by lane (urgent: watched tasks' polls;
// normal: callers' own calls; background: unwatched tasks' polls) and the oldest wait; any
// other endpoint whose counters moved gets "fiber budget". Both say what was granted since the
// last line, how many queued and for how long, fast failures, 429s and the deepest queue now;
// either is a warning when Fiber refused calls (the key is shared with something else).
// budget.Stats is the same data, ready for a metrics exporter.
func reportBudget(ctx context.Context, l *budget.Limiter, log *slog.Logger, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	var last budget.Stats
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		s := l.Stats()
		for _, ep := range []fiber.Endpoint{fiber.EndpointStart, fiber.EndpointPoll, fiber.EndpointCancel} {
			logBudget(ctx, log, ep, s, last)
		}
		last = s
	}
}

// logBudget logs the line of endpoint ep for stats s, given the previous stats prev.
func logBudget(ctx context.Context, log *slog.Logger, ep fiber.Endpoint, s, prev budget.Stats) {
	c, p := s.Totals[ep], prev.Totals[ep]
	var (
		depth      int
		lanes      [len(budget.Lanes)]budget.LaneStats
		backlogged time.Duration
		saturated  bool
	)
	for _, b := range s.Buckets {
		if b.Endpoint != ep {
			continue
		}
		depth = max(depth, b.Waiting)
		backlogged = max(backlogged, b.Backlogged)
		saturated = saturated || b.Backlogged >= b.Limit.Per
		for i, l := range b.Lanes {
			lanes[i].Waiting += l.Waiting
			lanes[i].OldestWait = max(lanes[i].OldestWait, l.OldestWait)
		}
	}
	if c == p && !saturated {
		return
	}
	var mean time.Duration
	if q := c.Queued - p.Queued; q > 0 {
		mean = (c.WaitTotal - p.WaitTotal) / time.Duration(q)
	}
	level := slog.LevelInfo
	if c.Penalties > p.Penalties {
		level = slog.LevelWarn
	}
	counts := []any{"endpoint", string(ep),
		"granted", c.Grants - p.Grants, "queued", c.Queued - p.Queued, "mean_wait", mean,
		"max_wait_ever", c.WaitMax, "fast_fails", c.FastFails - p.FastFails,
		"abandoned", c.Abandoned - p.Abandoned, "fiber_429s", c.Penalties - p.Penalties, "queue_depth", depth}
	if !saturated {
		log.Log(ctx, level, "fiber budget", counts...)
		return
	}
	oldest := max(lanes[budget.LaneUrgent].OldestWait, lanes[budget.LaneNormal].OldestWait, lanes[budget.LaneBackground].OldestWait)
	log.Log(ctx, level, "fiber budget saturated", append(counts,
		"waiting_urgent", lanes[budget.LaneUrgent].Waiting, "waiting_normal", lanes[budget.LaneNormal].Waiting,
		"waiting_background", lanes[budget.LaneBackground].Waiting, "oldest_wait", oldest,
		"oldest_background_wait", lanes[budget.LaneBackground].OldestWait, "saturated_for", backlogged)...)
}
