package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/metrics"
)

func TestOutcomeNamesEveryKind(t *testing.T) {
	seen := map[string]bool{}
	for k := fiber.KindBadRequest; k <= fiber.KindProtocol; k++ {
		o := metrics.Outcome(&fiber.Error{Kind: k})
		if o == "not_sent" || seen[o] {
			t.Errorf("kind %v: outcome %q (seen before: %t)", k, o, seen[o])
		}
		seen[o] = true
	}
	if o := metrics.Outcome(nil); o != "ok" {
		t.Errorf("nil: %q", o)
	}
	if o := metrics.Outcome(context.Canceled); o != "not_sent" {
		t.Errorf("context.Canceled: %q", o)
	}
}

// TestScrape: attempts and the budget show up in the text format, by endpoint and outcome,
// and no label holds a key or its id.
func TestScrape(t *testing.T) {
	const key = "sk_live_do_not_leak"
	m := metrics.New()
	l, err := budget.New(budget.Config{Limits: budget.Limits{Start: budget.Limit{N: 1, Per: time.Minute}}, OnGrant: m.ObserveBudgetGrant})
	if err != nil {
		t.Fatal(err)
	}
	m.RegisterBudget(l)
	m.RegisterReplica("web-1-a3f09c")
	ctx := context.Background()
	if err := l.Wait(ctx, fiber.KeyID(key), fiber.EndpointStart); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var we *budget.WaitError
	if err := l.Wait(short, fiber.KeyID(key), fiber.EndpointStart); !errors.As(err, &we) {
		t.Fatalf("second start: %v, want a fast failure", err)
	}
	l.Penalize(fiber.KeyID(key), fiber.EndpointPoll, time.Second)
	m.ObserveFiberAttempt(fiber.EndpointStart, nil, 120*time.Millisecond)
	m.ObserveFiberAttempt(fiber.EndpointPoll, &fiber.Error{Kind: fiber.KindRateLimited}, time.Millisecond)
	m.ObserveFiberAttempt(fiber.EndpointPoll, &fiber.Error{Kind: fiber.KindRateLimited}, time.Millisecond)

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	text := string(body)
	for _, want := range []string{
		`fibergate_fiber_attempts_total{endpoint="start",outcome="ok"} 1`,
		`fibergate_fiber_attempts_total{endpoint="poll",outcome="rate_limited"} 2`,
		`fibergate_fiber_attempt_duration_seconds_count{endpoint="start"} 1`,
		`fibergate_budget_grants_total{endpoint="start"} 1`,
		`fibergate_budget_fast_failures_total{endpoint="start"} 1`,
		`fibergate_budget_fiber_429_total{endpoint="poll"} 1`,
		`fibergate_budget_queue_depth{endpoint="cancel"} 0`,
		`fibergate_budget_lane_queue_depth{endpoint="start",lane="background"} 0`,
		`fibergate_budget_backlogged_seconds{endpoint="cancel"} 0`,
		`fibergate_budget_grant_wait_seconds_count{endpoint="start",lane="normal"} 1`,
		`fibergate_budget_grant_wait_seconds_count{endpoint="poll",lane="background"} 0`,
		`fibergate_budget_active_keys{endpoint="start"} 1`,
		`fibergate_replica_info{replica="web-1-a3f09c"} 1`,
		"go_goroutines",
	} {
		if !strings.Contains(text, want+"\n") && !strings.Contains(text, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(text, key) || strings.Contains(text, fiber.KeyID(key)) {
		t.Error("the scrape names the key or its id")
	}
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "fibergate_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

// TestBudgetLanes: the queues by lane, the oldest wait in each and the backlog, over two keys:
// depths add up, waits and backlogs are the longest.
func TestBudgetLanes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := metrics.New()
		l, err := budget.New(budget.Config{Limits: budget.Limits{Poll: budget.Limit{N: 1, Per: time.Minute}}, OnGrant: m.ObserveBudgetGrant})
		if err != nil {
			t.Fatal(err)
		}
		m.RegisterBudget(l)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 3)
		queue := func(ctx context.Context, keyID string) {
			go func() { done <- l.Wait(ctx, keyID, fiber.EndpointPoll) }()
			synctest.Wait()
		}
		for _, k := range []string{"key-a", "key-b"} {
			if err := l.Wait(ctx, k, fiber.EndpointPoll); err != nil {
				t.Fatal(err)
			}
		}
		queue(budget.WithBackground(ctx, time.Now()), "key-a")
		time.Sleep(10 * time.Second)
		queue(budget.WithBackground(ctx, time.Now()), "key-b")
		queue(budget.WithUrgent(budget.WithBackground(ctx, time.Now())), "key-b")
		time.Sleep(5 * time.Second)
		want := `
# HELP fibergate_budget_lane_queue_depth Calls waiting for a slot now, by lane: urgent (watched tasks' polls), normal (callers' own calls), background (unwatched tasks' polls, which wait their turn without a bound but their task's end).
# TYPE fibergate_budget_lane_queue_depth gauge
fibergate_budget_lane_queue_depth{endpoint="cancel",lane="background"} 0
fibergate_budget_lane_queue_depth{endpoint="cancel",lane="normal"} 0
fibergate_budget_lane_queue_depth{endpoint="cancel",lane="urgent"} 0
fibergate_budget_lane_queue_depth{endpoint="poll",lane="background"} 2
fibergate_budget_lane_queue_depth{endpoint="poll",lane="normal"} 0
fibergate_budget_lane_queue_depth{endpoint="poll",lane="urgent"} 1
fibergate_budget_lane_queue_depth{endpoint="start",lane="background"} 0
fibergate_budget_lane_queue_depth{endpoint="start",lane="normal"} 0
fibergate_budget_lane_queue_depth{endpoint="start",lane="urgent"} 0
# HELP fibergate_budget_lane_oldest_wait_seconds How long the call queued longest in the lane has waited so far, over the API keys; 0 when none waits.
# TYPE fibergate_budget_lane_oldest_wait_seconds gauge
fibergate_budget_lane_oldest_wait_seconds{endpoint="cancel",lane="background"} 0
fibergate_budget_lane_oldest_wait_seconds{endpoint="cancel",lane="normal"} 0
fibergate_budget_lane_oldest_wait_seconds{endpoint="cancel",lane="urgent"} 0
fibergate_budget_lane_oldest_wait_seconds{endpoint="poll",lane="background"} 15
fibergate_budget_lane_oldest_wait_seconds{endpoint="poll",lane="normal"} 0
fibergate_budget_lane_oldest_wait_seconds{endpoint="poll",lane="urgent"} 5
fibergate_budget_lane_oldest_wait_seconds{endpoint="start",lane="background"} 0
fibergate_budget_lane_oldest_wait_seconds{endpoint="start",lane="normal"} 0
fibergate_budget_lane_oldest_wait_seconds{endpoint="start",lane="urgent"} 0
# HELP fibergate_budget_backlogged_seconds How long calls have been queued for the endpoint without a break (the longest over the API keys); 0 when none waits. Above the limit's window, the budget is saturated.
# TYPE fibergate_budget_backlogged_seconds gauge
fibergate_budget_backlogged_seconds{endpoint="cancel"} 0
fibergate_budget_backlogged_seconds{endpoint="poll"} 15
fibergate_budget_backlogged_seconds{endpoint="start"} 0
`
		if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
			"fibergate_budget_lane_queue_depth", "fibergate_budget_lane_oldest_wait_seconds", "fibergate_budget_backlogged_seconds"); err != nil {
			t.Error(err)
		}
		cancel()
		for range 3 {
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("queued Wait: %v, want it to end with its context", err)
			}
		}
	})
}
