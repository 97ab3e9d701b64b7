package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/apierr"
	"github.com/fibergate/fibergate/internal/storage/sqlite"
)

// An internal test: it sets the idempotency records' clock, which the package does not export.

func TestIdempotencyTTLIsConfiguredAndExpiredKeysStartAgain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "idem.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	log := slog.New(slog.DiscardHandler)

	if got := New(Config{Requests: store, Logger: log}).idem.ttl; got != DefaultIdempotencyTTL {
		t.Errorf("zero IdempotencyTTL: ttl %v, want %v", got, DefaultIdempotencyTTL)
	}
	const ttl = 90 * time.Minute
	idem := New(Config{Requests: store, IdempotencyTTL: ttl, Logger: log}).idem
	if idem.ttl != ttl {
		t.Fatalf("IdempotencyTTL %v did not reach the records: ttl %v", ttl, idem.ttl)
	}
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	idem.now = func() time.Time { return now }

	starts := 0
	start := func() (*cdv1.StartBatchResponse, error) {
		starts++
		return &cdv1.StartBatchResponse{Output: &cdv1.StartBatchOutput{TaskId: fmt.Sprint("task-", starts)}}, nil
	}
	call := func(what, hash, wantTask string, wantStarts int) {
		t.Helper()
		resp, err := idem.do(ctx, "alice|7d444840-9dc0-11d1-b245-5ffdce74fad2", hash, start)
		if err != nil || resp.GetOutput().GetTaskId() != wantTask || starts != wantStarts {
			t.Errorf("%s: %v, %v after %d starts; want %s after %d", what, resp.GetOutput().GetTaskId(), err, starts, wantTask, wantStarts)
		}
	}

	call("first call", "h1", "task-1", 1)
	now = now.Add(ttl - time.Nanosecond)
	call("just before the TTL", "h1", "task-1", 1)
	if _, err := idem.do(ctx, "alice|7d444840-9dc0-11d1-b245-5ffdce74fad2", "h2", start); !errors.Is(err, apierr.ErrIdempotencyKeyReused) {
		t.Errorf("another payload before the TTL: %v, want ErrIdempotencyKeyReused", err)
	}
	now = now.Add(time.Nanosecond)
	call("at the TTL", "h1", "task-2", 2)
	call("the new record", "h1", "task-2", 2)
	now = now.Add(ttl)
	call("another payload once that expired too", "h2", "task-3", 3)
}
