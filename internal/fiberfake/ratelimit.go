package fiberfake

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Rate is a request limit: at most N arrivals in any window of length Per.
// The zero Rate stands for an endpoint's default; a negative N or a Per that
// is not positive means no limit, and N == 0 with a positive Per refuses every
// call.
type Rate struct {
	N   int
	Per time.Duration
}

// ParseRate parses "N/duration", for example "30/1m", "5/2s", "60/1h" or
// "10/500ms". The duration is a Go duration; a bare unit ("30/m", "5/s",
// "1/h") means one of it. "unlimited" gives a Rate with no limit.
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "unlimited" {
		return Rate{N: -1, Per: time.Second}, nil
	}
	num, per, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, fmt.Errorf("parse rate %q: want N/duration, like 30/1m", s)
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n < 1 {
		return Rate{}, fmt.Errorf("parse rate %q: count must be a positive integer", s)
	}
	per = strings.TrimSpace(per)
	switch per {
	case "ms", "s", "m", "h":
		per = "1" + per
	}
	d, err := time.ParseDuration(per)
	if err != nil || d <= 0 {
		return Rate{}, fmt.Errorf("parse rate %q: window must be a positive duration, like 1m", s)
	}
	return Rate{N: n, Per: d}, nil
}

// String formats r the way ParseRate reads it.
func (r Rate) String() string {
	if r.N < 0 {
		return "unlimited"
	}
	units := []struct {
		d    time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}}
	for _, u := range units {
		if r.Per > 0 && r.Per%u.d == 0 {
			return fmt.Sprintf("%d/%d%s", r.N, r.Per/u.d, u.name)
		}
	}
	return fmt.Sprintf("%d/%s", r.N, r.Per)
}

// orDefault returns def when r is the zero Rate.
func (r Rate) orDefault(def Rate) Rate {
	if r == (Rate{}) {
		return def
	}
	return r
}

// limitKey names one sliding window: one API key at one endpoint.
type limitKey struct {
	apiKey string
	ep     Endpoint
}

// limiter keeps a sliding window of arrival times per API key and endpoint.
// It is not safe for concurrent use; Sim guards it with its mutex.
type limiter struct {
	arrivals map[limitKey][]time.Time // sorted ascending
}

func newLimiter() *limiter {
	return &limiter{arrivals: make(map[limitKey][]time.Time)}
}

// arrive records an arrival at now and reports whether it is within rate.
// Every arrival counts, including refused ones, so a caller that retries
// without waiting stays refused. When refused, wait is how long from now until
// an arrival would be accepted again.
func (l *limiter) arrive(k limitKey, r Rate, now time.Time) (ok bool, wait time.Duration) {
	switch {
	case r.N < 0 || r.Per <= 0:
		return true, 0
	case r.N == 0:
		return false, r.Per
	}
	ts := l.arrivals[k]
	// Drop arrivals that have left the window (now-Per, now].
	keep := 0
	for keep < len(ts) && now.Sub(ts[keep]) >= r.Per {
		keep++
	}
	ts = ts[keep:]
	i, _ := slices.BinarySearchFunc(ts, now, func(a, b time.Time) int { return a.Compare(b) })
	ts = slices.Insert(ts, i, now)
	l.arrivals[k] = ts
	if len(ts) <= r.N {
		return true, 0
	}
	// The next arrival is accepted once at most N-1 older arrivals are left in
	// its window, that is once ts[len-N] has left it.
	wait = ts[len(ts)-r.N].Add(r.Per).Sub(now)
	return false, max(wait, 0)
}

// retryAfterSeconds rounds d up to whole seconds, at least 1, for a
// Retry-After header.
func retryAfterSeconds(d time.Duration) string {
	secs := int64(math.Ceil(d.Seconds()))
	return strconv.FormatInt(max(secs, 1), 10)
}

// admit counts a call of apiKey at ep against its rate limit and returns the
// 429 to answer when it is over. The caller holds s.mu.
func (s *Sim) admit(apiKey string, ep Endpoint, now time.Time) *reqError {
	r := s.cfg.Limits.rate(ep)
	ok, wait := s.limiter.arrive(limitKey{apiKey: apiKey, ep: ep}, r, now)
	if ok {
		return nil
	}
	e := &reqError{
		status: http.StatusTooManyRequests,
		msg:    fmt.Sprintf("Rate limit exceeded: at most %d %s requests per %s.", r.N, ep, r.Per),
	}
	if s.cfg.Limits.RetryAfter {
		e.retryAfter = max(wait, time.Nanosecond)
	}
	return e
}
