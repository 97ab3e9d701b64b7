package main

import (
	"context"
	"log/slog"
	"testing"
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
