package budget

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fibergate/fibergate/internal/fiber"
)

// Limit is a request limit as Fiber states it: at most N requests in any window of length Per.
// A valid Limit has N >= 1 and Per > 0; the zero Limit stands for an endpoint's default in
// Limits.
type Limit struct {
	N   int
	Per time.Duration
}

// ParseLimit parses "N/duration", such as "30/1m", "240/1m", "5/2s" or "10/500ms". The duration
// is a Go duration, and a bare unit ("30/m", "5/s") means one of it. N must be at least 1.
func ParseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	num, per, ok := strings.Cut(s, "/")
	if !ok {
		return Limit{}, fmt.Errorf("parse limit %q: want N/duration, like 30/1m", s)
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n < 1 {
		return Limit{}, fmt.Errorf("parse limit %q: count must be a positive integer", s)
	}
	per = strings.TrimSpace(per)
	switch per {
	case "ms", "s", "m", "h":
		per = "1" + per
	}
	d, err := time.ParseDuration(per)
	if err != nil || d <= 0 {
		return Limit{}, fmt.Errorf("parse limit %q: window must be a positive duration, like 1m", s)
	}
	return Limit{N: n, Per: d}, nil
}

// String formats l the way ParseLimit reads it, such as "30/1m" or "10/500ms".
func (l Limit) String() string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if l.Per > 0 && l.Per%u.d == 0 {
			return fmt.Sprintf("%d/%d%s", l.N, l.Per/u.d, u.name)
		}
	}
	return fmt.Sprintf("%d/%s", l.N, l.Per)
}

// PerSecond returns the limit's long-run rate in requests per second.
func (l Limit) PerSecond() float64 {
	if l.Per <= 0 {
		return 0
	}
	return float64(l.N) / l.Per.Seconds()
}

func (l Limit) validate() error {
	if l.N < 1 || l.Per <= 0 {
		return fmt.Errorf("limit %d/%v: want at least 1 request per positive duration", l.N, l.Per)
	}
	return nil
}

// DefaultMargin is the margin added to each window of l when Config.Margin is zero:
// Per/100, at least 20ms and at most 1s, and never more than Per/20, so that the achieved rate
// N/(Per+margin) stays at or above 95.2% of l. See the package documentation.
func DefaultMargin(l Limit) time.Duration {
	m := min(max(l.Per/100, 20*time.Millisecond), time.Second)
	return min(m, l.Per/20)
}

// Limits holds the limit of each endpoint. A zero field stands for the endpoint's default in
// DefaultLimits.
type Limits struct {
	Start  Limit // default 30/1m
	Poll   Limit // default 240/1m
	Cancel Limit // default 60/1m
}

// DefaultLimits returns Fiber's published limits: 30 starts, 240 polls and (assumed, the sources
// differ) 60 cancels per minute per API key.
func DefaultLimits() Limits {
	return Limits{
		Start:  Limit{N: 30, Per: time.Minute},
		Poll:   Limit{N: 240, Per: time.Minute},
		Cancel: Limit{N: 60, Per: time.Minute},
	}
}

// For returns the limit of ep, and false when ep is not one of fiber's endpoints.
func (ls Limits) For(ep fiber.Endpoint) (Limit, bool) {
	switch ep {
	case fiber.EndpointStart:
		return ls.Start, true
	case fiber.EndpointPoll:
		return ls.Poll, true
	case fiber.EndpointCancel:
		return ls.Cancel, true
	}
	return Limit{}, false
}

// withDefaults fills the zero fields of ls from DefaultLimits and checks the others.
func (ls Limits) withDefaults() (Limits, error) {
	def := DefaultLimits()
	for _, f := range []struct {
		ep       fiber.Endpoint
		got, def *Limit
	}{{fiber.EndpointStart, &ls.Start, &def.Start}, {fiber.EndpointPoll, &ls.Poll, &def.Poll}, {fiber.EndpointCancel, &ls.Cancel, &def.Cancel}} {
		if *f.got == (Limit{}) {
			*f.got = *f.def
		}
		if err := f.got.validate(); err != nil {
			return ls, fmt.Errorf("%s %w", f.ep, err)
		}
	}
	return ls, nil
}
