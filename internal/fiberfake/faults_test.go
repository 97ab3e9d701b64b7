package fiberfake_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

func TestStatusFaults(t *testing.T) {
	statuses := []int{400, 401, 402, 403, 404, 422, 429, 500, 503}
	for _, status := range statuses {
		for _, retry := range []time.Duration{0, 1500 * time.Millisecond} {
			t.Run(http.StatusText(status)+"/retry "+retry.String(), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					e := newEnv(t, fiberfake.Config{})
					err := e.sim.InjectFault(fiberfake.Fault{Endpoint: fiberfake.EndpointStart, Kind: fiberfake.FaultStatus, Status: status, RetryAfter: retry, Count: 1})
					if err != nil {
						t.Fatal(err)
					}
					body := startBody(fiberfake.DemoAPIKey, "https://www.linkedin.com/in/a")
					r := e.call(fiberfake.EndpointStart, body)
					if r.status != status || len(r.body) != 1 || r.body["message"] == "" {
						t.Fatalf("status %d body %s, want %d with a message", r.status, r.raw, status)
					}
					wantRetry := ""
					if retry > 0 {
						wantRetry = "2"
					}
					if got := r.header.Get("Retry-After"); got != wantRetry {
						t.Errorf("Retry-After = %q, want %q", got, wantRetry)
					}
					if n := len(e.sim.StartedTasks()); n != 0 {
						t.Errorf("a status fault started %d tasks", n)
					}
					e.call(fiberfake.EndpointStart, body).mustOK(t) // the fault is used up
					st := e.sim.Stats().Endpoints[fiberfake.EndpointStart]
					if st.Calls != 2 || st.Faulted != 1 || st.Statuses[status] != 1 {
						t.Errorf("stats = %+v", st)
					}
				})
			})
		}
	}
}

func TestFaultScopeAndCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{})
		id := e.start("https://www.linkedin.com/in/a")
		mustInject(t, e.sim, fiberfake.Fault{Endpoint: fiberfake.EndpointPoll, Kind: fiberfake.FaultStatus, Status: 503, Count: 2})
		mustInject(t, e.sim, fiberfake.Fault{Kind: fiberfake.FaultStatus, Status: 500}) // every endpoint, until cleared
		poll := map[string]any{"apiKey": fiberfake.DemoAPIKey, "taskId": id}
		want := []struct {
			ep     fiberfake.Endpoint
			status int
		}{
			{fiberfake.EndpointPoll, 503},
			{fiberfake.EndpointPoll, 503},
			{fiberfake.EndpointPoll, 500},
			{fiberfake.EndpointCancel, 500},
			{fiberfake.EndpointPoll, 500},
		}
		for i, w := range want {
			if r := e.call(w.ep, poll); r.status != w.status {
				t.Errorf("call %d to %s: status %d, want %d", i, w.ep, r.status, w.status)
			}
		}
		if got := e.sim.Faults(); len(got) != 1 || got[0].Status != 500 {
			t.Errorf("Faults() = %+v, want the persistent one left", got)
		}
		e.sim.ClearFaults()
		e.call(fiberfake.EndpointPoll, poll).mustOK(t)
		if got := e.sim.Calls(fiberfake.EndpointPoll); got != 5 {
			t.Errorf("Calls(poll) = %d, want 5", got)
		}
	})
}

func TestBrokenBodyFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{})
		mustInject(t, e.sim, fiberfake.Fault{Endpoint: fiberfake.EndpointStart, Kind: fiberfake.FaultBrokenBody, Count: 1})
		r := e.call(fiberfake.EndpointStart, startBody(fiberfake.DemoAPIKey, "https://www.linkedin.com/in/a"))
		var v any
		if r.status != http.StatusOK || json.Unmarshal(r.raw, &v) == nil || !strings.HasPrefix(string(r.raw), `{"output":`) {
			t.Errorf("status %d body %q, want 200 with truncated JSON", r.status, r.raw)
		}
		if tasks := e.sim.StartedTasks(); len(tasks) != 1 || tasks[0].CreditsCharged != 5 {
			t.Errorf("StartedTasks = %+v, want the start done and charged", tasks)
		}
	})
}

func TestDropFaults(t *testing.T) {
	tests := []struct {
		kind      fiberfake.FaultKind
		wantTasks int
	}{
		{fiberfake.FaultDropBefore, 0},
		{fiberfake.FaultDropAfter, 1},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, fiberfake.Config{})
				mustInject(t, e.sim, fiberfake.Fault{Endpoint: fiberfake.EndpointStart, Kind: tt.kind, Count: 1})
				_, err := e.do(http.MethodPost, fiberfake.EndpointStart.Path(), startBody(fiberfake.DemoAPIKey, "https://www.linkedin.com/in/a"))
				if err == nil {
					t.Fatal("request succeeded, want a dropped connection")
				}
				if n := len(e.sim.StartedTasks()); n != tt.wantTasks {
					t.Errorf("%d tasks started, want %d", n, tt.wantTasks)
				}
				wantCredits := fiberfake.DefaultDemoCredits - 5*float64(tt.wantTasks)
				if c, _ := e.sim.Credits(fiberfake.DemoAPIKey); c != wantCredits {
					t.Errorf("credits = %v, want %v", c, wantCredits)
				}
				st := e.sim.Stats().Endpoints[fiberfake.EndpointStart]
				if st.Calls != 1 || st.Dropped != 1 || st.Faulted != 1 {
					t.Errorf("stats = %+v", st)
				}
				e.call(fiberfake.EndpointStart, startBody(fiberfake.DemoAPIKey, "https://www.linkedin.com/in/b")).mustOK(t)
			})
		})
	}
}

func TestDelayFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{})
		const delay = 30 * time.Millisecond
		mustInject(t, e.sim, fiberfake.Fault{Endpoint: fiberfake.EndpointStart, Kind: fiberfake.FaultDelay, Delay: delay, Count: 1})
		began := time.Now()
		e.call(fiberfake.EndpointStart, startBody(fiberfake.DemoAPIKey, "https://www.linkedin.com/in/a")).mustOK(t)
		if took := time.Since(began); took < delay {
			t.Errorf("answered after %v, want at least %v", took, delay)
		}
	})
}

func TestDelayEndsWhenTheCallerLeaves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{})
		mustInject(t, e.sim, fiberfake.Fault{Kind: fiberfake.FaultDelay, Delay: time.Hour, Count: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url+fiberfake.EndpointPoll.Path(), strings.NewReader("{}"))
		if res, err := e.client.Do(req); err == nil {
			res.Body.Close()
			t.Fatal("request succeeded during an hour of delay")
		}
		// The handler must return; the bubble waits for it.
	})
}

func TestCloseEndsDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := fiberfake.New(fiberfake.Config{})
		mustInject(t, sim, fiberfake.Fault{Kind: fiberfake.FaultDelay, Delay: time.Hour, Count: 1})
		rec := httptest.NewRecorder()
		body := `{"apiKey":"` + fiberfake.DemoAPIKey + `","personDetails":[{"linkedinUrl":{"value":"linkedin.com/in/a"}}]}`
		req := httptest.NewRequest(http.MethodPost, fiberfake.EndpointStart.Path(), strings.NewReader(body))
		finished := make(chan struct{})
		go func() {
			defer close(finished)
			sim.Handler().ServeHTTP(rec, req)
		}()
		synctest.Wait() // the call is blocked, waiting out its delay
		if len(sim.Faults()) != 0 {
			t.Fatal("the call never took the fault")
		}
		if err := sim.Close(); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		select {
		case <-finished:
		default:
			t.Fatal("Close did not end the delay")
		}
		if rec.Code != http.StatusOK {
			t.Errorf("status %d, want the call to go on after Close", rec.Code)
		}
	})
}

func TestInjectFaultRefusesNonsense(t *testing.T) {
	sim := fiberfake.New(fiberfake.Config{})
	bad := []fiberfake.Fault{
		{Kind: "explode"},
		{Kind: fiberfake.FaultStatus, Status: 200},
		{Kind: fiberfake.FaultStatus, Status: 600},
		{Kind: fiberfake.FaultDelay, Endpoint: "search"},
		{Kind: fiberfake.FaultDelay, Delay: -time.Second},
		{Kind: fiberfake.FaultDropAfter, Count: -1},
	}
	for _, f := range bad {
		if err := sim.InjectFault(f); err == nil {
			t.Errorf("InjectFault(%+v) = nil, want an error", f)
		}
	}
	if got := sim.Faults(); len(got) != 0 {
		t.Errorf("Faults() = %+v, want none", got)
	}
}

func TestAdminFaultsOverHTTP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{})
		r, err := e.do(http.MethodPost, "/_sim/faults", `[{"endpoint":"start","kind":"status","status":503,"retryAfter":"3s","count":1},{"kind":"delay","delay":"1ms"}]`)
		if err != nil || r.status != http.StatusOK {
			t.Fatalf("POST /_sim/faults: %v, %d %s", err, r.status, r.raw)
		}
		want := []fiberfake.Fault{
			{Endpoint: fiberfake.EndpointStart, Kind: fiberfake.FaultStatus, Status: 503, RetryAfter: 3 * time.Second, Count: 1},
			{Kind: fiberfake.FaultDelay, Delay: time.Millisecond},
		}
		if d := cmp.Diff(want, e.sim.Faults()); d != "" {
			t.Errorf("faults (-want +got):\n%s", d)
		}
		s := e.call(fiberfake.EndpointStart, startBody(fiberfake.DemoAPIKey, "https://www.linkedin.com/in/a"))
		if s.status != 503 || s.header.Get("Retry-After") != "3" {
			t.Errorf("start: %d Retry-After %q, want 503 and 3", s.status, s.header.Get("Retry-After"))
		}
		if r, _ := e.do(http.MethodPost, "/_sim/faults", `{"kind":"status","status":99}`); r.status != http.StatusBadRequest {
			t.Errorf("invalid fault: status %d, want 400", r.status)
		}
		if r, _ := e.do(http.MethodDelete, "/_sim/faults", nil); r.status != http.StatusOK || len(e.sim.Faults()) != 0 {
			t.Errorf("DELETE /_sim/faults: %d, faults left %v", r.status, e.sim.Faults())
		}
		r, _ = e.do(http.MethodGet, "/_sim/stats", nil)
		start := obj(t, obj(t, r.body, "endpoints"), "start")
		if start["calls"] != 1.0 || start["faulted"] != 1.0 || obj(t, start, "statuses")["503"] != 1.0 {
			t.Errorf("stats.endpoints.start = %v", start)
		}
		if r, _ := e.do(http.MethodPost, "/_sim/credits", `{"apiKey":"new","credits":12}`); r.status != http.StatusOK {
			t.Errorf("POST /_sim/credits: %d %s", r.status, r.raw)
		}
		if c, ok := e.sim.Credits("new"); !ok || c != 12 {
			t.Errorf("Credits(new) = %v, %v", c, ok)
		}
	})
}

func mustInject(t *testing.T, sim *fiberfake.Sim, f fiberfake.Fault) {
	t.Helper()
	if err := sim.InjectFault(f); err != nil {
		t.Fatal(err)
	}
}
