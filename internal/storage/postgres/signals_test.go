package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/storage/postgres"
	"github.com/fibergate/fibergate/internal/storage/postgres/pgtest"
)

// listener is a Listen running until the test ends.
type listener struct {
	sigs chan storage.Signal
	done chan error // Listen's result
}

// listen runs s.Listen under ctx until the test ends, and waits until it listens.
func listen(t *testing.T, ctx context.Context, s *postgres.Store) *listener {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	l := &listener{sigs: make(chan storage.Signal, 100), done: make(chan error, 1)}
	go func() { l.done <- s.Listen(ctx, func(sig storage.Signal) { l.sigs <- sig }) }()
	t.Cleanup(func() {
		cancel()
		<-l.done
	})
	if got := l.next(t); got.Kind != storage.SignalResync {
		t.Fatalf("Listen's first signal is %+v, want a resync", got)
	}
	return l
}

// next returns the next signal the listener received; it fails t if none comes in 10s.
func (l *listener) next(t *testing.T) storage.Signal {
	t.Helper()
	select {
	case sig := <-l.sigs:
		return sig
	case err := <-l.done:
		t.Fatalf("Listen returned: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no signal in 10s")
	}
	return storage.Signal{}
}

// TestSignalsRoundTrip: what a store publishes reaches every store listening on the same
// database and schema, its own included, in order; a store in another schema hears nothing.
func TestSignalsRoundTrip(t *testing.T) {
	db := pgtest.NewDatabase(t)
	ctx := testContext(t)
	a, b := openStore(t, db), openStore(t, db)
	other := openStore(t, pgtest.NewSchema(t, db))
	la, lb, lo := listen(t, ctx, a), listen(t, ctx, b), listen(t, ctx, other)

	sent := []storage.Signal{
		{Kind: storage.SignalResults, Replica: "replica-a", Task: "task-1"},
		{Kind: storage.SignalWatched, Replica: "replica-b", Task: "task-2 with spaces, \"quotes\" and é"},
		{Kind: storage.SignalPollNow, Replica: "replica-a", Task: "task-1"},
		{Kind: storage.SignalResults, Replica: "replica-a", Task: "task-1"}, // again: delivered again
	}
	for i, sig := range sent {
		from := a
		if i%2 == 1 {
			from = b
		}
		if err := from.Publish(ctx, sig); err != nil {
			t.Fatalf("Publish(%+v): %v", sig, err)
		}
	}
	for name, l := range map[string]*listener{"a": la, "b": lb} {
		var got []storage.Signal
		for range sent {
			got = append(got, l.next(t))
		}
		if diff := cmp.Diff(sent, got); diff != "" {
			t.Errorf("store %s heard (-sent +heard):\n%s", name, diff)
		}
	}
	// A signal on the other schema's channel comes after anything of ours would have.
	mark := storage.Signal{Kind: storage.SignalResults, Replica: "other", Task: "mark"}
	if err := other.Publish(ctx, mark); err != nil {
		t.Fatal(err)
	}
	if got := lo.next(t); got != mark {
		t.Errorf("the store in another schema heard %+v, want only its own %+v", got, mark)
	}
}

// TestListenEndsWhenItsConnectionIsCut: Listen returns an error when its connection is
// terminated (pg_terminate_backend), and a new Listen starts with a resync and hears what is
// published from then on.
func TestListenEndsWhenItsConnectionIsCut(t *testing.T) {
	db := pgtest.NewDatabase(t)
	ctx := testContext(t)
	s := openStore(t, db)
	l := listen(t, ctx, s)

	admin, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var cut int
	err = admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'fibergate/signals'`).Scan(&cut)
	if err != nil || cut != 1 {
		t.Fatalf("terminated %d listener connections (%v), want 1", cut, err)
	}
	select {
	case err := <-l.done:
		if err == nil {
			t.Fatal("Listen returned nil when its connection was cut, want an error")
		}
		t.Logf("Listen, its connection cut: %v", err)
		l.done <- err // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("Listen did not return in 10s after its connection was cut")
	}

	again := listen(t, ctx, s) // a resync first
	sig := storage.Signal{Kind: storage.SignalResults, Replica: "r", Task: "after"}
	if err := s.Publish(ctx, sig); err != nil {
		t.Fatal(err)
	}
	if got := again.next(t); got != sig {
		t.Errorf("heard %+v after listening again, want %+v", got, sig)
	}
}

// TestListenReturnsNilWhenItsContextEnds: the end of ctx is not a lost subscription.
func TestListenReturnsNilWhenItsContextEnds(t *testing.T) {
	s := openStore(t, pgtest.NewDatabase(t))
	ctx, cancel := context.WithCancel(testContext(t))
	resync := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- s.Listen(ctx, func(sig storage.Signal) {
			if sig.Kind == storage.SignalResync {
				resync <- struct{}{}
			}
		})
	}()
	select {
	case <-resync:
	case err := <-done:
		t.Fatalf("Listen returned before listening: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Listen after its context ended: %v, want nil", err)
	}
}
