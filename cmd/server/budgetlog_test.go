package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
)

// recordHandler sends every record's attributes to a channel.
type recordHandler struct{ ch chan map[string]any }

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h recordHandler) WithGroup(string) slog.Handler            { return h }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	m := map[string]any{"msg": r.Message}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.Any(); return true })
	h.ch <- m
	return nil
}

func TestReportBudgetLogsWhatMoved(t *testing.T) {
	l, err := budget.New(budget.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 3 {
		if err := l.Wait(ctx, "key-id", fiber.EndpointPoll); err != nil {
			t.Fatal(err)
		}
	}
	h := recordHandler{ch: make(chan map[string]any, 16)}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- reportBudget(runCtx, l, slog.New(h), 5*time.Millisecond) }()
	select {
	case rec := <-h.ch:
		if rec["endpoint"] != "poll" || rec["granted"] != uint64(3) {
			t.Errorf("record %v, want 3 polls granted", rec)
		}
	case <-ctx.Done():
		t.Fatal("no budget report")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// timedRecords keeps every record's time, message and attributes.
type timedRecords struct {
	mu   sync.Mutex // guards recs
	recs []map[string]any
}

func (h *timedRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h *timedRecords) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *timedRecords) WithGroup(string) slog.Handler            { return h }
func (h *timedRecords) Handle(_ context.Context, r slog.Record) error {
	m := map[string]any{"msg": r.Message, "time": r.Time, "level": r.Level}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.Any(); return true })
	h.mu.Lock()
	h.recs = append(h.recs, m)
	h.mu.Unlock()
	return nil
}

// TestReportBudgetSaturated: 40 background pollers keep a poll limit of 4/1s saturated for
// 3.5 minutes. Each minute of it gets one line, "fiber budget saturated", with the queue by
// lane; the minute in which the load stopped gets the plain line, and a quiet minute none.
func TestReportBudgetSaturated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := budget.New(budget.Config{Limits: budget.Limits{Poll: budget.Limit{N: 4, Per: time.Second}}, MaxWait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		load, stopLoad := context.WithCancel(context.Background())
		time.AfterFunc(3*time.Minute+30*time.Second, stopLoad)
		var pollers sync.WaitGroup
		for range 40 {
			pollers.Go(func() {
				last := time.Now()
				for l.Wait(budget.WithBackground(load, last), "key-id", fiber.EndpointPoll) == nil {
					last = time.Now()
				}
			})
		}
		h := &timedRecords{}
		ctx, stop := context.WithCancel(context.Background())
		time.AfterFunc(5*time.Minute+time.Second, stop)
		if err := reportBudget(ctx, l, slog.New(h), time.Minute); err != nil {
			t.Fatal(err)
		}
		pollers.Wait()

		var got []string
		for _, r := range h.recs {
			got = append(got, fmt.Sprintf("+%v %v", r["time"].(time.Time).Sub(t0), r["msg"]))
			if r["endpoint"] != "poll" || r["level"] != slog.LevelInfo {
				t.Errorf("record %v, want the poll endpoint's at info level", r)
			}
			if r["msg"] == "fiber budget saturated" {
				if g := r["granted"].(uint64); g < 230 || g > 240 {
					t.Errorf("%d polls granted in a saturated minute, want those of 4/1.02s", g)
				}
				if r["waiting_background"].(int64) < 30 || r["waiting_urgent"].(int64) != 0 || r["oldest_wait"].(time.Duration) < 5*time.Second {
					t.Errorf("saturated record %v, want some 36 background pollers queued, the oldest for about 10s", r)
				}
			}
		}
		want := []string{"+1m0s fiber budget saturated", "+2m0s fiber budget saturated", "+3m0s fiber budget saturated", "+4m0s fiber budget"}
		if !slices.Equal(got, want) {
			t.Errorf("records %q, want %q", got, want)
		}
	})
}
