package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, o options)
		wantErr bool
	}{
		{name: "defaults", check: func(t *testing.T, o options) {
			if o.addr != "127.0.0.1:8081" || o.cfg.Keys != nil || o.cfg.PeoplePerSecond != 50 || o.cfg.NoDataRate != 0.1 {
				t.Errorf("options = %+v", o)
			}
			if o.cfg.Limits != (fiberfake.Limits{}) || o.cfg.CursorMode != fiberfake.CursorNullWhenCaughtUp || o.cfg.FailedUnpaged {
				t.Errorf("limits %+v, cursor mode %v, failed unpaged %v: want defaults", o.cfg.Limits, o.cfg.CursorMode, o.cfg.FailedUnpaged)
			}
		}},
		{name: "flags", args: []string{"-addr", ":9", "-seed", "7", "-people-per-second", "inf", "-no-data-rate", "0",
			"-reject-rate", "0.2", "-start-rate", "5/2s", "-poll-rate", "10/500ms", "-cancel-rate", "60/1h",
			"-cursor-mode", "repeat", "-keys", "a=100000, b=5", "-retry-after", "-failed-unpaged"},
			check: func(t *testing.T, o options) {
				want := fiberfake.Limits{
					Start:      fiberfake.Rate{N: 5, Per: 2 * time.Second},
					Poll:       fiberfake.Rate{N: 10, Per: 500 * time.Millisecond},
					Cancel:     fiberfake.Rate{N: 60, Per: time.Hour},
					RetryAfter: true,
				}
				if d := cmp.Diff(want, o.cfg.Limits); d != "" {
					t.Errorf("limits (-want +got):\n%s", d)
				}
				if d := cmp.Diff(map[string]float64{"a": 100000, "b": 5}, o.cfg.Keys); d != "" {
					t.Errorf("keys (-want +got):\n%s", d)
				}
				if o.addr != ":9" || o.cfg.Seed != 7 || !math.IsInf(o.cfg.PeoplePerSecond, 1) || o.cfg.NoDataRate >= 0 ||
					o.cfg.RejectRate != 0.2 || o.cfg.CursorMode != fiberfake.CursorRepeatWhenCaughtUp || !o.cfg.FailedUnpaged {
					t.Errorf("options = %+v", o)
				}
			}},
		{name: "env fallback", env: map[string]string{"FIBERFAKE_SEED": "9", "FIBERFAKE_CURSOR_MODE": "repeat", "FIBERFAKE_ADDR": "127.0.0.1:1", "FIBERFAKE_FAILED_UNPAGED": "true"},
			args: []string{"-addr", "127.0.0.1:2"},
			check: func(t *testing.T, o options) {
				if o.cfg.Seed != 9 || o.cfg.CursorMode != fiberfake.CursorRepeatWhenCaughtUp || o.addr != "127.0.0.1:2" || !o.cfg.FailedUnpaged {
					t.Errorf("options = %+v, want seed and mode from env, addr from the flag", o)
				}
			}},
		{name: "bad rate", args: []string{"-start-rate", "often"}, wantErr: true},
		{name: "bad env rate", env: map[string]string{"FIBERFAKE_POLL_RATE": "x"}, wantErr: true},
		{name: "bad cursor mode", args: []string{"-cursor-mode", "sometimes"}, wantErr: true},
		{name: "bad keys", args: []string{"-keys", "a"}, wantErr: true},
		{name: "zero speed", args: []string{"-people-per-second", "0"}, wantErr: true},
		{name: "stray argument", args: []string{"serve"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, o)
			}
		})
	}
}

func TestRunServesAndStops(t *testing.T) {
	o, err := parseOptions([]string{"-addr", "127.0.0.1:0", "-keys", "k=10"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(runCtx, o, slog.New(slog.DiscardHandler), ready) }()

	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run returned early: %v", err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	body := `{"apiKey":"k","personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/a"}}]}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+fiberfake.EndpointStart.Path(), strings.NewReader(body))
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.Contains(raw, []byte(`"creditsCharged":5`)) {
		t.Errorf("start: %d %s", res.StatusCode, raw)
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/_sim/stats", nil)
	if res, err := client.Do(req); err != nil || res.StatusCode != http.StatusOK {
		t.Errorf("GET /_sim/stats: %v", err)
	} else {
		res.Body.Close()
	}
	tr.CloseIdleConnections()

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("run did not stop")
	}
}
