package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
)

// reportBudget logs the Fiber budget's counters every interval while they move, until ctx
// ends: calls granted per endpoint, how many queued and for how long, fast failures, 429s,
// and the deepest queue now. budget.Stats is the same data, ready for a metrics exporter.
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
			c, prev := s.Totals[ep], last.Totals[ep]
			if c == prev {
				continue
			}
			var mean time.Duration
			if q := c.Queued - prev.Queued; q > 0 {
				mean = (c.WaitTotal - prev.WaitTotal) / time.Duration(q)
			}
			depth := 0
			for _, b := range s.Buckets {
				if b.Endpoint == ep {
					depth = max(depth, b.Waiting)
				}
			}
			level := slog.LevelInfo
			if c.Penalties > prev.Penalties {
				level = slog.LevelWarn // Fiber refused calls: the key is shared with something else
			}
			log.Log(ctx, level, "fiber budget", "endpoint", string(ep),
				"granted", c.Grants-prev.Grants, "queued", c.Queued-prev.Queued, "mean_wait", mean,
				"max_wait_ever", c.WaitMax, "fast_fails", c.FastFails-prev.FastFails,
				"abandoned", c.Abandoned-prev.Abandoned, "fiber_429s", c.Penalties-prev.Penalties, "queue_depth", depth)
		}
		last = s
	}
}
