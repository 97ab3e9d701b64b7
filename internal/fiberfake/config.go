package fiberfake

import (
	"crypto/rand"
	"log/slog"
	"math"
	"time"
)

// DemoAPIKey is the API key that exists when Config.Keys is nil.
const DemoAPIKey = "fiber-demo-key"

// Default values that a zero Config field stands for.
const (
	DefaultDemoCredits        = 100000
	DefaultPeoplePerSecond    = 50
	DefaultNoDataRate         = 0.1
	DefaultLowCreditThreshold = 1000
	DefaultMaxBodyBytes       = 16 << 20
	DefaultGetMoreCreditsURL  = "https://app.fiber.ai/settings/billing"
)

// CursorMode selects how poll answers nextCursor once the caller has read
// every result completed so far. The upstream documentation does not say which
// one Fiber does, so clients must cope with both.
type CursorMode int

const (
	// CursorNullWhenCaughtUp answers nextCursor null whenever the page
	// reaches the last result completed so far, even if the page has items
	// and the task is not done. A caller that gets a null cursor polls again
	// with the cursor it sent; the same cursor always starts at the same
	// result, so it gets the items it has already seen first and must skip
	// them. This is the zero value.
	CursorNullWhenCaughtUp CursorMode = iota
	// CursorRepeatWhenCaughtUp always answers a cursor that points just past
	// the last returned item. When no newer result exists it is the same
	// cursor as on the previous call, also once the task is done.
	CursorRepeatWhenCaughtUp
)

// String returns "null" or "repeat", the names ParseCursorMode accepts.
func (m CursorMode) String() string {
	if m == CursorRepeatWhenCaughtUp {
		return "repeat"
	}
	return "null"
}

// Limits are the per-API-key request rates of the three endpoints. Each is
// enforced separately per key and per endpoint over a sliding window of
// request arrivals. A zero Rate stands for the documented default.
type Limits struct {
	Start  Rate // default 30/1m
	Poll   Rate // default 240/1m
	Cancel Rate // default 60/1m

	// RetryAfter adds a Retry-After header (whole seconds, at least 1) to
	// rate-limit answers. Fiber does not document one, so it is off by
	// default.
	RetryAfter bool
}

// Config describes a simulated Fiber account. The zero value is usable: every
// zero field stands for the default documented on it. New copies what it
// needs, so a Config may be reused after New returns.
//
// The simulator tells time with package time: the wall clock, or a
// testing/synctest bubble's clock when it is served and called from inside
// one (see the package documentation).
type Config struct {
	// Seed makes the people's fates deterministic: the same seed and inputs
	// give the same contact details, rejections, no-data people and
	// failures. Task ids depend on TaskIDSalt as well.
	Seed int64

	// TaskIDSalt is mixed with Seed into every task id. Empty means a salt
	// New draws from crypto/rand, so that every simulator hands out ids of
	// its own, whatever its Seed: a server restarted on the same store never
	// gets an id the store already holds. Simulators with the same Seed and
	// the same non-empty TaskIDSalt give the same task ids, for callers that
	// compare answers byte for byte.
	TaskIDSalt string

	// Keys maps each accepted API key to its starting credits. Nil means a
	// single key, DemoAPIKey, with DefaultDemoCredits. An empty non-nil map
	// accepts no key at all.
	Keys map[string]float64

	// PeoplePerSecond is how fast a task completes its people, one by one,
	// in the input order of its unique accepted people. Zero means
	// DefaultPeoplePerSecond; math.Inf(1) completes every task at once.
	PeoplePerSecond float64

	// NoDataRate is the share of people for whom nothing is found (their
	// result has "outputs": null and their credits are refunded). Zero means
	// DefaultNoDataRate; a negative value means none. A slug starting with
	// "nodata-" never has data.
	NoDataRate float64

	// RejectRate is the share of people rejected before queueing: counted in
	// numRejected, never in pageResults, never charged. Zero means none. A
	// slug starting with "reject-" is always rejected.
	RejectRate float64

	// FailRate is the share of people whose fetch fails: counted in
	// numFailed, returned in pageResults with "outputs": null (unless
	// FailedUnpaged), refunded. Zero means none. A slug starting with "fail-"
	// always fails.
	FailRate float64

	// FailedUnpaged leaves failed people out of pageResults while numFailed
	// still counts them, so that the counts tell of more finished people than
	// the pages ever show. Fiber's documentation does not say whether it pages
	// failures; by default (false) they are paged with "outputs": null, and
	// numCompleted + numFailed is how many results the pages hold in all.
	FailedUnpaged bool

	// LowCreditThreshold: when a key's balance is below it, answers carry a
	// lowCreditAlert. Zero means DefaultLowCreditThreshold; a negative value
	// never alerts.
	LowCreditThreshold float64

	// GetMoreCreditsURL is the link in credit alerts. Empty means
	// DefaultGetMoreCreditsURL.
	GetMoreCreditsURL string

	// Limits are the per-key rate limits.
	Limits Limits

	// CursorMode is how poll answers nextCursor when caught up.
	CursorMode CursorMode

	// MaxBodyBytes bounds request bodies; larger ones get 413. Zero means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64

	// Logger receives one debug record per API call (never an API key).
	// Nil discards.
	Logger *slog.Logger
}

// withDefaults returns c with every zero field replaced by its default and
// Keys copied.
func (c Config) withDefaults() Config {
	keys := map[string]float64{DemoAPIKey: DefaultDemoCredits}
	if c.Keys != nil {
		keys = make(map[string]float64, len(c.Keys))
		for k, v := range c.Keys {
			keys[k] = v
		}
	}
	c.Keys = keys
	if c.PeoplePerSecond <= 0 || math.IsNaN(c.PeoplePerSecond) {
		c.PeoplePerSecond = DefaultPeoplePerSecond
	}
	switch {
	case c.NoDataRate == 0:
		c.NoDataRate = DefaultNoDataRate
	case c.NoDataRate < 0:
		c.NoDataRate = 0
	}
	switch {
	case c.LowCreditThreshold == 0:
		c.LowCreditThreshold = DefaultLowCreditThreshold
	case c.LowCreditThreshold < 0:
		c.LowCreditThreshold = math.Inf(-1)
	}
	if c.GetMoreCreditsURL == "" {
		c.GetMoreCreditsURL = DefaultGetMoreCreditsURL
	}
	c.Limits.Start = c.Limits.Start.orDefault(Rate{N: 30, Per: time.Minute})
	c.Limits.Poll = c.Limits.Poll.orDefault(Rate{N: 240, Per: time.Minute})
	c.Limits.Cancel = c.Limits.Cancel.orDefault(Rate{N: 60, Per: time.Minute})
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.TaskIDSalt == "" {
		c.TaskIDSalt = rand.Text()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// rate returns the limit of endpoint ep.
func (l Limits) rate(ep Endpoint) Rate {
	switch ep {
	case EndpointStart:
		return l.Start
	case EndpointPoll:
		return l.Poll
	default:
		return l.Cancel
	}
}
