package fiber_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/fiberfake/fiberfaketest"
)

// otherKey is a second API key known to the simulator.
const otherKey = "sk_test_other_9a8b7c6d"

// simWithBudget starts a simulator with the default limits and returns it with a Retrier that
// spends a Limiter of the same limits, and the Limiter.
func simWithBudget(t *testing.T, timeout time.Duration, policy fiber.RetryPolicy) (*fiberfake.Sim, *fiber.Retrier, *budget.Limiter) {
	t.Helper()
	cfg := simConfig(fiberfake.Limits{})
	cfg.Keys[otherKey] = 1e9
	sim, url := fiberfaketest.NewServer(t, cfg)
	l, err := budget.New(budget.Config{})
	if err != nil {
		t.Fatal(err)
	}
	rc := fiber.RetryConfig{Policy: policy, Limiter: l}
	return sim, fiber.NewRetrier(newSimClient(t, url, fiber.WithTimeout(timeout)), rc), l
}

// TestFaultsThroughBudget injects each fault once on each endpoint of a simulator and checks
// what the Retrier makes of it: polls and cancels recover; a start is retried only after a 429,
// is never sent twice otherwise, and a start that may have created a task (no answer, or a
// 5xx) surfaces as KindOutcomeUnknown.
func TestFaultsThroughBudget(t *testing.T) {
	const timeout = 300 * time.Millisecond
	faults := map[string]fiberfake.Fault{
		"429":              {Kind: fiberfake.FaultStatus, Status: http.StatusTooManyRequests},
		"429 Retry-After":  {Kind: fiberfake.FaultStatus, Status: http.StatusTooManyRequests, RetryAfter: time.Second},
		"500":              {Kind: fiberfake.FaultStatus, Status: http.StatusInternalServerError},
		"503":              {Kind: fiberfake.FaultStatus, Status: http.StatusServiceUnavailable},
		"reset before":     {Kind: fiberfake.FaultDropBefore},
		"reset after":      {Kind: fiberfake.FaultDropAfter},
		"broken body":      {Kind: fiberfake.FaultBrokenBody},
		"slow, times out":  {Kind: fiberfake.FaultDelay, Delay: 3 * timeout},
		"slow, in time":    {Kind: fiberfake.FaultDelay, Delay: timeout / 10},
		"slow body":        {Kind: fiberfake.FaultSlowBody, Delay: 3 * timeout},
		"429 then 503":     {Kind: fiberfake.FaultStatus, Status: http.StatusTooManyRequests}, // followed by a 503, below
		"two resets after": {Kind: fiberfake.FaultDropAfter},                                  // for poll only
	}
	type want struct {
		kind      fiber.ErrorKind // 0: success
		calls     int             // calls the simulator saw for the faulted call
		tasks     int             // for a start: tasks the simulator created
		ambiguous bool            // for a start: the outcome is unknown
		canceled  bool            // for a cancel: the task ended up canceled
	}
	tests := []struct {
		fault string
		ep    fiber.Endpoint
		want  want
	}{
		{"429", fiber.EndpointStart, want{calls: 2, tasks: 1}},
		{"429 Retry-After", fiber.EndpointStart, want{calls: 2, tasks: 1}},
		{"500", fiber.EndpointStart, want{kind: fiber.KindOutcomeUnknown, calls: 1, ambiguous: true}},
		{"503", fiber.EndpointStart, want{kind: fiber.KindOutcomeUnknown, calls: 1, ambiguous: true}},
		{"reset before", fiber.EndpointStart, want{kind: fiber.KindOutcomeUnknown, calls: 1, ambiguous: true}},
		{"reset after", fiber.EndpointStart, want{kind: fiber.KindOutcomeUnknown, calls: 1, tasks: 1, ambiguous: true}},
		{"broken body", fiber.EndpointStart, want{kind: fiber.KindOutcomeUnknown, calls: 1, tasks: 1, ambiguous: true}},
		{"slow, times out", fiber.EndpointStart, want{kind: fiber.KindOutcomeUnknown, calls: 1, ambiguous: true}},
		{"slow, in time", fiber.EndpointStart, want{calls: 1, tasks: 1}},
		// The answer began (the task exists, charged) but stalled past the timeout.
		{"slow body", fiber.EndpointStart, want{kind: fiber.KindOutcomeUnknown, calls: 1, tasks: 1, ambiguous: true}},
		{"429 then 503", fiber.EndpointStart, want{kind: fiber.KindOutcomeUnknown, calls: 2, ambiguous: true}},

		{"429", fiber.EndpointPoll, want{calls: 2}},
		{"429 Retry-After", fiber.EndpointPoll, want{calls: 2}},
		{"500", fiber.EndpointPoll, want{calls: 2}},
		{"503", fiber.EndpointPoll, want{calls: 2}},
		{"reset before", fiber.EndpointPoll, want{calls: 2}},
		{"reset after", fiber.EndpointPoll, want{calls: 2}},
		{"two resets after", fiber.EndpointPoll, want{calls: 3}},
		{"slow, times out", fiber.EndpointPoll, want{calls: 2}},
		{"slow, in time", fiber.EndpointPoll, want{calls: 1}},
		{"slow body", fiber.EndpointPoll, want{calls: 2}},
		{"429 then 503", fiber.EndpointPoll, want{calls: 3}},
		// A 200 with a malformed body is not a transient failure: it is not retried.
		{"broken body", fiber.EndpointPoll, want{kind: fiber.KindProtocol, calls: 1}},

		{"429", fiber.EndpointCancel, want{calls: 2, canceled: true}},
		{"429 Retry-After", fiber.EndpointCancel, want{calls: 2, canceled: true}},
		{"500", fiber.EndpointCancel, want{calls: 2, canceled: true}},
		{"503", fiber.EndpointCancel, want{calls: 2, canceled: true}},
		{"reset before", fiber.EndpointCancel, want{calls: 2, canceled: true}},
		{"slow, times out", fiber.EndpointCancel, want{calls: 2, canceled: true}},
		{"slow, in time", fiber.EndpointCancel, want{calls: 1, canceled: true}},
		// The first cancel took effect; its answer stalled; the retry gets 422.
		{"slow body", fiber.EndpointCancel, want{kind: fiber.KindOutcomeUnknown, calls: 2, canceled: true}},
		{"429 then 503", fiber.EndpointCancel, want{calls: 3, canceled: true}},
		// The first attempt cancelled the task but its answer was lost; the retry is refused
		// (422: no longer cancellable). That is an unknown outcome, not a refusal: polling
		// shows the task canceled.
		{"reset after", fiber.EndpointCancel, want{kind: fiber.KindOutcomeUnknown, calls: 2, canceled: true}},
		{"broken body", fiber.EndpointCancel, want{kind: fiber.KindProtocol, calls: 1, canceled: true}},
	}
	for _, tt := range tests {
		t.Run(string(tt.ep)+"/"+tt.fault, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			sim, r, l := simWithBudget(t, timeout, fiber.RetryPolicy{MaxAttempts: 4, Base: 10 * time.Millisecond, Cap: 50 * time.Millisecond})
			taskID := ""
			if tt.ep != fiber.EndpointStart {
				resp, err := r.Start(ctx, testKey, fiber.StartRequest{LinkedInURLs: []string{person(1), person(2), person(3)}})
				if err != nil {
					t.Fatal(err)
				}
				taskID = resp.TaskID
			}
			f := faults[tt.fault]
			f.Endpoint, f.Count = fiberfake.Endpoint(tt.ep), 1
			if tt.fault == "two resets after" {
				f.Count = 2
			}
			if err := sim.InjectFault(f); err != nil {
				t.Fatal(err)
			}
			if tt.fault == "429 then 503" {
				if err := sim.InjectFault(fiberfake.Fault{Endpoint: f.Endpoint, Kind: fiberfake.FaultStatus, Status: http.StatusServiceUnavailable, Count: 1}); err != nil {
					t.Fatal(err)
				}
			}
			before := sim.Calls(fiberfake.Endpoint(tt.ep))
			tasksBefore := sim.Stats().TasksStarted

			var err error
			switch tt.ep {
			case fiber.EndpointStart:
				_, err = r.Start(ctx, testKey, fiber.StartRequest{LinkedInURLs: []string{person(7)}})
			case fiber.EndpointPoll:
				_, err = r.Poll(ctx, testKey, fiber.PollRequest{TaskID: taskID})
			case fiber.EndpointCancel:
				_, err = r.Cancel(ctx, testKey, taskID)
			}
			t.Logf("result: %v", err)
			if got := fiber.KindOf(err); got != tt.want.kind || (err == nil) != (tt.want.kind == 0) {
				t.Errorf("got %v (kind %v), want kind %v", err, got, tt.want.kind)
			}
			assertNoKey(t, err)
			if got := sim.Calls(fiberfake.Endpoint(tt.ep)) - before; got != tt.want.calls {
				t.Errorf("simulator saw %d %s calls, want %d", got, tt.ep, tt.want.calls)
			}
			if tt.ep == fiber.EndpointStart {
				if got := sim.Stats().TasksStarted - tasksBefore; got != tt.want.tasks {
					t.Errorf("simulator started %d tasks, want %d", got, tt.want.tasks)
				}
				if got := fiber.KindOf(err) == fiber.KindOutcomeUnknown; got != tt.want.ambiguous {
					t.Errorf("outcome unknown = %v, want %v", got, tt.want.ambiguous)
				}
			}
			if tt.ep == fiber.EndpointCancel {
				canceled := false
				for _, ti := range sim.StartedTasks() {
					canceled = canceled || (ti.ID == taskID && ti.Canceled)
				}
				if canceled != tt.want.canceled {
					t.Errorf("task canceled = %v, want %v", canceled, tt.want.canceled)
				}
			}
			// Every attempt went through the budget.
			if got := l.Stats().Totals[tt.ep].Grants; got != uint64(tt.want.calls) {
				t.Errorf("budget granted %d %s slots, want one per call: %d", got, tt.ep, tt.want.calls)
			}
		})
	}
}

// TestOverDeadlineFailsFast: a call whose deadline cannot fit the queue fails at once with the
// expected delay, and nothing reaches the simulator for it; a call whose deadline fits waits.
func TestOverDeadlineFailsFast(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 2s of real time")
	}
	lim, err := budget.ParseLimit("3/2s")
	if err != nil {
		t.Fatal(err)
	}
	rate, err := fiberfake.ParseRate(lim.String())
	if err != nil {
		t.Fatal(err)
	}
	sim, url := fiberfaketest.NewServer(t, simConfig(fiberfake.Limits{Start: rate}))
	l, err := budget.New(budget.Config{Limits: budget.Limits{Start: lim}, MaxWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r := fiber.NewRetrier(newSimClient(t, url), fiber.RetryConfig{Limiter: l})
	ctx := testContext(t)
	for i := range 3 {
		if _, err := r.Start(ctx, testKey, fiber.StartRequest{LinkedInURLs: []string{person(i)}}); err != nil {
			t.Fatal(err)
		}
	}

	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err = r.Start(short, testKey, fiber.StartRequest{LinkedInURLs: []string{person(3)}})
	took := time.Since(began)
	var we *budget.WaitError
	if !errors.As(err, &we) {
		t.Fatalf("got %v, want a *budget.WaitError", err)
	}
	window := lim.Per + budget.DefaultMargin(lim)
	if we.RetryAfter <= window-500*time.Millisecond || we.RetryAfter > window || we.MaxWait || we.Endpoint != fiber.EndpointStart || we.KeyID != fiber.KeyID(testKey) {
		t.Errorf("WaitError = %+v, want a retry delay just under %v for the deadline", *we, window)
	}
	if took > 400*time.Millisecond { // waiting would have taken the deadline's 500ms
		t.Errorf("failed after %v, want at once", took)
	}
	if fiber.KindOf(err) != 0 {
		t.Errorf("got an upstream kind %v for a call never sent", fiber.KindOf(err))
	}
	assertNoKey(t, err)
	t.Logf("fast failure after %v: %v", took, err)

	// A deadline of 10s, but MaxWait is 1s.
	_, err = r.Start(ctx, testKey, fiber.StartRequest{LinkedInURLs: []string{person(4)}})
	if !errors.As(err, &we) || !we.MaxWait {
		t.Errorf("got %v, want a *budget.WaitError for MaxWait", err)
	}
	if got := sim.Calls(fiberfake.EndpointStart); got != 3 {
		t.Errorf("simulator saw %d starts, want 3: nothing for the fast failures", got)
	}

	// A deadline that fits the wait is served once the window moves.
	l2, err := budget.New(budget.Config{Limits: budget.Limits{Start: lim}})
	if err != nil {
		t.Fatal(err)
	}
	sim2, url2 := fiberfaketest.NewServer(t, simConfig(fiberfake.Limits{Start: rate}))
	r2 := fiber.NewRetrier(newSimClient(t, url2), fiber.RetryConfig{Limiter: l2})
	for i := range 4 {
		if _, err := r2.Start(ctx, testKey, fiber.StartRequest{LinkedInURLs: []string{person(i)}}); err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
	}
	if ep := sim2.Stats().Endpoints[fiberfake.EndpointStart]; ep.RateLimited != 0 || ep.OK != 4 {
		t.Errorf("simulator: %+v, want 4 ok and no 429", ep)
	}
}

// TestPenaltySlowsTheBucket: a 429 with Retry-After pauses every later call of that key and
// endpoint, from any caller, and no other bucket.
func TestPenaltySlowsTheBucket(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 1s of real time")
	}
	ctx := testContext(t)
	sim, r, l := simWithBudget(t, 5*time.Second, fiber.RetryPolicy{MaxAttempts: 1})
	task := func(key string) string {
		resp, err := r.Start(ctx, key, fiber.StartRequest{LinkedInURLs: []string{person(1), person(2)}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.TaskID
	}
	mine, theirs := task(testKey), task(otherKey)
	if err := sim.InjectFault(fiberfake.Fault{Endpoint: fiberfake.EndpointPoll, Kind: fiberfake.FaultStatus, Status: http.StatusTooManyRequests, RetryAfter: time.Second, Count: 1}); err != nil {
		t.Fatal(err)
	}
	// MaxAttempts 1: the 429 comes back at once, after pausing the bucket.
	_, err := r.Poll(budget.WithCaller(ctx, "a"), testKey, fiber.PollRequest{TaskID: mine})
	if fiber.KindOf(err) != fiber.KindRateLimited {
		t.Fatalf("got %v, want the 429", err)
	}
	paused := time.Now()

	if _, err := r.Poll(budget.WithCaller(ctx, "b"), otherKey, fiber.PollRequest{TaskID: theirs}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Cancel(budget.WithCaller(ctx, "b"), testKey, mine); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(paused); d > 800*time.Millisecond { // the pause is 1s
		t.Errorf("other buckets waited %v", d)
	}
	if _, err := r.Poll(budget.WithCaller(ctx, "b"), testKey, fiber.PollRequest{TaskID: mine}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(paused); d < 900*time.Millisecond {
		t.Errorf("another caller's poll of the paused key went out after %v, want about 1s", d)
	}
	var st budget.BucketStats
	for _, b := range l.Stats().Buckets {
		if b.KeyID == fiber.KeyID(testKey) && b.Endpoint == fiber.EndpointPoll {
			st = b
		}
	}
	if st.Penalties != 1 || st.Queued != 1 || st.WaitMax < 900*time.Millisecond {
		t.Errorf("poll bucket stats = %+v, want 1 penalty and 1 wait of about 1s", st)
	}
}
