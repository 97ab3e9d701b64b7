package budget_test

import (
	"strings"
	"testing"
	"time"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
)

func TestParseLimit(t *testing.T) {
	tests := []struct {
		in      string
		want    budget.Limit
		str     string
		wantErr string
	}{
		{in: "30/1m", want: budget.Limit{N: 30, Per: time.Minute}, str: "30/1m"},
		{in: "240/1m", want: budget.Limit{N: 240, Per: time.Minute}, str: "240/1m"},
		{in: "60/1m", want: budget.Limit{N: 60, Per: time.Minute}, str: "60/1m"},
		{in: "5/2s", want: budget.Limit{N: 5, Per: 2 * time.Second}, str: "5/2s"},
		{in: "10/500ms", want: budget.Limit{N: 10, Per: 500 * time.Millisecond}, str: "10/500ms"},
		{in: " 30 / 6s ", want: budget.Limit{N: 30, Per: 6 * time.Second}, str: "30/6s"},
		{in: "30/m", want: budget.Limit{N: 30, Per: time.Minute}, str: "30/1m"},
		{in: "100000/1s", want: budget.Limit{N: 100000, Per: time.Second}, str: "100000/1s"},
		{in: "1/90s", want: budget.Limit{N: 1, Per: 90 * time.Second}, str: "1/90s"},
		{in: "7/1500us", want: budget.Limit{N: 7, Per: 1500 * time.Microsecond}, str: "7/1.5ms"},
		{in: "", wantErr: "want N/duration"},
		{in: "30", wantErr: "want N/duration"},
		{in: "0/1m", wantErr: "positive integer"},
		{in: "-1/1m", wantErr: "positive integer"},
		{in: "x/1m", wantErr: "positive integer"},
		{in: "30/0s", wantErr: "positive duration"},
		{in: "30/-1m", wantErr: "positive duration"},
		{in: "30/minute", wantErr: "positive duration"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := budget.ParseLimit(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseLimit(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseLimit(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
			if back, err := budget.ParseLimit(got.String()); err != nil || back != got {
				t.Errorf("ParseLimit(String()) = %v, %v; want %v", back, err, got)
			}
		})
	}
}

// TestDefaultMargin checks the documented margins and that the margin never costs more than
// 5% of the rate, whatever the window.
func TestDefaultMargin(t *testing.T) {
	tests := []struct {
		limit string
		want  time.Duration
	}{
		{"30/1m", 600 * time.Millisecond},
		{"240/1m", 600 * time.Millisecond},
		{"30/6s", 60 * time.Millisecond},
		{"5/2s", 20 * time.Millisecond},
		{"10/500ms", 20 * time.Millisecond},
		{"10/100ms", 5 * time.Millisecond},
		{"100/1h", time.Second},
	}
	for _, tt := range tests {
		if got := budget.DefaultMargin(mustLimit(t, tt.limit)); got != tt.want {
			t.Errorf("DefaultMargin(%s) = %v, want %v", tt.limit, got, tt.want)
		}
	}
	for per := time.Microsecond; per < 100*time.Hour; per = per*3/2 + 1 {
		l := budget.Limit{N: 30, Per: per}
		m := budget.DefaultMargin(l)
		if share := float64(per) / float64(per+m); share < 0.95 {
			t.Fatalf("DefaultMargin(%v) = %v keeps only %.3f of the rate", l, m, share)
		}
		if per >= 2*time.Second && float64(per)/float64(per+m) < 0.99 {
			t.Fatalf("DefaultMargin(%v) = %v keeps less than 99%% of the rate", l, m)
		}
	}
}

func TestLimits(t *testing.T) {
	def := budget.DefaultLimits()
	for ep, want := range map[fiber.Endpoint]string{fiber.EndpointStart: "30/1m", fiber.EndpointPoll: "240/1m", fiber.EndpointCancel: "60/1m"} {
		if got, ok := def.For(ep); !ok || got.String() != want {
			t.Errorf("DefaultLimits().For(%s) = %v, %v; want %s", ep, got, ok, want)
		}
	}
	if _, ok := def.For("delete"); ok {
		t.Error(`For("delete") reported a limit`)
	}

	l := newLimiter(t, budget.Config{Limits: budget.Limits{Poll: mustLimit(t, "5/2s")}})
	got := l.Limits()
	if got.Start != def.Start || got.Cancel != def.Cancel || got.Poll.String() != "5/2s" {
		t.Errorf("Limits() = %+v, want defaults but poll 5/2s", got)
	}

	for _, cfg := range []budget.Config{
		{Limits: budget.Limits{Start: budget.Limit{N: 0, Per: time.Second}}},
		{Limits: budget.Limits{Poll: budget.Limit{N: 3, Per: -time.Second}}},
		{Limits: budget.Limits{Cancel: budget.Limit{N: -1}}},
		{Backoff: budget.Backoff{Base: -time.Second}},
		{MaxWait: -time.Second},
	} {
		if _, err := budget.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", cfg)
		}
	}
}
