package fiberfake_test

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in      string
		want    fiberfake.Rate
		wantErr bool
	}{
		{"30/1m", fiberfake.Rate{N: 30, Per: time.Minute}, false},
		{"5/2s", fiberfake.Rate{N: 5, Per: 2 * time.Second}, false},
		{"240/1m", fiberfake.Rate{N: 240, Per: time.Minute}, false},
		{"60/1h", fiberfake.Rate{N: 60, Per: time.Hour}, false},
		{"10/500ms", fiberfake.Rate{N: 10, Per: 500 * time.Millisecond}, false},
		{"30/m", fiberfake.Rate{N: 30, Per: time.Minute}, false},
		{" 7 / 90s ", fiberfake.Rate{N: 7, Per: 90 * time.Second}, false},
		{"unlimited", fiberfake.Rate{N: -1, Per: time.Second}, false},
		{"30", fiberfake.Rate{}, true},
		{"0/1m", fiberfake.Rate{}, true},
		{"-1/1m", fiberfake.Rate{}, true},
		{"x/1m", fiberfake.Rate{}, true},
		{"5/0s", fiberfake.Rate{}, true},
		{"5/soon", fiberfake.Rate{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := fiberfake.ParseRate(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseRate(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseRate(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if err == nil {
				back, err := fiberfake.ParseRate(got.String())
				if err != nil || back != got {
					t.Errorf("ParseRate(%q.String() = %q) = %+v, %v", tt.in, got.String(), back, err)
				}
			}
		})
	}
}

func TestRateLimitSlidingWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{
			Keys:   map[string]float64{"k": 1000, "other": 1000},
			Limits: fiberfake.Limits{Start: fiberfake.Rate{N: 2, Per: time.Minute}, Poll: fiberfake.Rate{N: 1, Per: time.Minute}},
		})
		body := startBody("k", "https://www.linkedin.com/in/a")
		steps := []struct {
			advance time.Duration
			key     string
			status  int
		}{
			{0, "k", http.StatusOK},
			{10 * time.Second, "k", http.StatusOK},
			{10 * time.Second, "k", http.StatusTooManyRequests}, // 3 arrivals in the last minute
			{0, "other", http.StatusOK},                         // limits are per key
			{40 * time.Second, "k", http.StatusTooManyRequests}, // t=60s: the first left; 10s, 20s (refused) and 60s remain
			{10 * time.Second, "k", http.StatusTooManyRequests}, // t=70s: 20s, 60s, 70s
			{50 * time.Second, "k", http.StatusOK},              // t=120s: 70s, 120s
		}
		for i, s := range steps {
			time.Sleep(s.advance)
			body["apiKey"] = s.key
			r := e.call(fiberfake.EndpointStart, body)
			if r.status != s.status {
				t.Fatalf("step %d: status %d, want %d; body %s", i, r.status, s.status, r.raw)
			}
			if s.status == http.StatusTooManyRequests {
				if msg, _ := r.body["message"].(string); msg == "" || len(r.body) != 1 {
					t.Errorf("step %d: body %s, want just a message", i, r.raw)
				}
				if h := r.header.Get("Retry-After"); h != "" {
					t.Errorf("step %d: Retry-After %q without Limits.RetryAfter", i, h)
				}
			}
		}
		// Endpoints are limited separately.
		e.call(fiberfake.EndpointPoll, map[string]any{"apiKey": "k", "taskId": e.sim.StartedTasks()[0].ID}).mustOK(t)
		st := e.sim.Stats().Endpoints[fiberfake.EndpointStart]
		if st.Calls != 7 || st.RateLimited != 3 || st.OK != 4 {
			t.Errorf("start stats = %+v, want 7 calls, 3 limited, 4 ok", st)
		}
	})
}

func TestRateLimitRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{
			Limits: fiberfake.Limits{Cancel: fiberfake.Rate{N: 1, Per: time.Minute}, RetryAfter: true},
		})
		body := map[string]any{"apiKey": fiberfake.DemoAPIKey, "taskId": "none"}
		if r := e.call(fiberfake.EndpointCancel, body); r.status != http.StatusNotFound {
			t.Fatalf("first cancel: status %d, want 404", r.status)
		}
		steps := []struct {
			advance    time.Duration
			status     int
			retryAfter string
		}{
			// The refused arrival counts too, so the wait runs from it.
			{20*time.Second + 300*time.Millisecond, http.StatusTooManyRequests, "60"},
			{59 * time.Second, http.StatusTooManyRequests, "60"},
			{60 * time.Second, http.StatusNotFound, ""}, // waited as told
		}
		for i, s := range steps {
			time.Sleep(s.advance)
			r := e.call(fiberfake.EndpointCancel, body)
			if r.status != s.status || r.header.Get("Retry-After") != s.retryAfter {
				t.Errorf("step %d: status %d Retry-After %q, want %d and %q", i, r.status, r.header.Get("Retry-After"), s.status, s.retryAfter)
			}
		}
	})
}
