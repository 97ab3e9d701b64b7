package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/protobuf/proto"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/apierr"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/storage/postgres"
	"github.com/fibergate/fibergate/internal/storage/postgres/pgtest"
	"github.com/fibergate/fibergate/internal/storage/sqlite"
)

// Replicas in these tests are idempotency instances of their own (replica name, in-process
// queue) on one shared store, as replica processes share a database. Each test runs on a
// SQLite file and on PostgreSQL (skipped where there is none, as pgtest says).

const clusterKey = "alice/7d444840-9dc0-11d1-b245-5ffdce74fad2"

// forEachStore runs test on a new SQLite store and on a new PostgreSQL store.
func forEachStore(t *testing.T, test func(t *testing.T, store RequestStore)) {
	t.Run("sqlite", func(t *testing.T) {
		store, err := sqlite.Open(clusterContext(t), filepath.Join(t.TempDir(), "requests.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		test(t, store)
	})
	t.Run("postgres", func(t *testing.T) {
		store, err := postgres.Open(clusterContext(t), pgtest.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		test(t, store)
	})
}

// clusterContext returns a context that ends with the test, and after 30s at the latest.
func clusterContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// replicaStore is a replica's view of the shared store. It closes sawPending the first time
// the replica reads the record of a request another replica is sending, and fails renewals
// once the replica is cut off (its lease then runs out, as if it had died).
type replicaStore struct {
	RequestStore
	sawPending chan struct{}
	once       sync.Once
	cutOff     atomic.Bool
}

func (s *replicaStore) ResolveRequest(ctx context.Context, key string, now time.Time) (storage.Request, error) {
	r, err := s.RequestStore.ResolveRequest(ctx, key, now)
	if err == nil && r.State == storage.RequestPending {
		s.once.Do(func() { close(s.sawPending) })
	}
	return r, err
}

func (s *replicaStore) RenewRequest(ctx context.Context, key, owner string, lease time.Duration) (bool, error) {
	if s.cutOff.Load() {
		return false, errors.New("replica cut off from the store")
	}
	return s.RequestStore.RenewRequest(ctx, key, owner, lease)
}

// replica is one replica's idempotency on store.
type replica struct {
	*idempotency
	store *replicaStore
}

func newReplica(store RequestStore, name string, lease time.Duration) replica {
	rs := &replicaStore{RequestStore: store, sawPending: make(chan struct{})}
	return replica{newIdempotency(rs, DefaultIdempotencyTTL, nil, name, lease, slog.New(slog.DiscardHandler)), rs}
}

// waitClosed fails the test unless ch is closed before ctx ends.
func waitClosed(ctx context.Context, t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatalf("%s: %v", what, ctx.Err())
	}
}

// gatedStarter is a start that counts its calls; each call tells on started which replica
// made it, then waits for open (at the latest when the test ends) and answers with a task
// named after the call.
type gatedStarter struct {
	calls   atomic.Int32
	started chan string
	release chan struct{}
	once    sync.Once
}

func newGatedStarter(t *testing.T) *gatedStarter {
	g := &gatedStarter{started: make(chan string, 10), release: make(chan struct{})}
	t.Cleanup(g.open)
	return g
}

// open lets every call answer, now and later.
func (g *gatedStarter) open() { g.once.Do(func() { close(g.release) }) }

func (g *gatedStarter) on(name string) func() (*cdv1.StartBatchResponse, error) {
	return func() (*cdv1.StartBatchResponse, error) {
		n := g.calls.Add(1)
		g.started <- name
		<-g.release
		return &cdv1.StartBatchResponse{Output: &cdv1.StartBatchOutput{TaskId: fmt.Sprint("task-", n)}}, nil
	}
}

// TestDuplicatesAcrossReplicasStartOnce: the same request, four times on each of two replicas
// at once, is started once, and every caller gets its answer, also the callers on the replica
// that did not send it, which wait for it.
func TestDuplicatesAcrossReplicasStartOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, store RequestStore) {
		ctx := clusterContext(t)
		replicas := map[string]replica{"a": newReplica(store, "a", time.Minute), "b": newReplica(store, "b", time.Minute)}
		starter := newGatedStarter(t)
		const perReplica = 4
		type answer struct {
			resp *cdv1.StartBatchResponse
			err  error
		}
		answers := make(chan answer, 2*perReplica)
		var wg sync.WaitGroup
		for name, r := range replicas {
			for range perReplica {
				wg.Go(func() {
					resp, err := r.do(ctx, clusterKey, "h1", starter.on(name))
					answers <- answer{resp, err}
				})
			}
		}
		var sender string
		select {
		case sender = <-starter.started:
		case <-ctx.Done():
			t.Fatal("no replica started the request")
		}
		other := map[string]string{"a": "b", "b": "a"}[sender]
		// The start stays open until the other replica has found the request pending. No
		// caller answers before it ends.
		select {
		case <-replicas[other].store.sawPending:
		case a := <-answers:
			t.Fatalf("a caller answered %v, %v before the request ended", a.resp, a.err)
		case <-ctx.Done():
			t.Fatalf("replica %s never found the request pending", other)
		}
		starter.open()
		wg.Wait()
		close(answers)

		for a := range answers {
			if a.err != nil || a.resp.GetOutput().GetTaskId() != "task-1" {
				t.Errorf("a caller got %v, %v; want task-1", a.resp, a.err)
			}
		}
		if n := starter.calls.Load(); n != 1 {
			t.Errorf("%d starts, want 1", n)
		}
	})
}

// TestOlderPendingRequestOfLiveReplicaIsAwaited: a request that a live replica claimed before
// this replica started is not taken for left by a dead process: its duplicate here waits for
// the answer.
func TestOlderPendingRequestOfLiveReplicaIsAwaited(t *testing.T) {
	forEachStore(t, func(t *testing.T, store RequestStore) {
		ctx := clusterContext(t)
		a := newReplica(store, "a", time.Minute)
		a.now = func() time.Time { return time.Now().Add(-time.Minute) } // claimed a minute before b starts
		starter := newGatedStarter(t)
		first := make(chan error, 1)
		go func() {
			_, err := a.do(ctx, clusterKey, "h1", starter.on("a"))
			first <- err
		}()
		waitClosed(ctx, t, chanOf(starter.started), "replica a did not start the request")

		b := newReplica(store, "b", time.Minute) // starts after a claimed
		dup := make(chan error, 1)
		var resp *cdv1.StartBatchResponse
		go func() {
			var err error
			resp, err = b.do(ctx, clusterKey, "h1", starter.on("b"))
			dup <- err
		}()
		select {
		case <-b.store.sawPending:
		case err := <-dup:
			t.Fatalf("the duplicate answered %v, %v before the request ended; want it to wait", resp, err)
		case <-ctx.Done():
			t.Fatal("replica b never found the request pending")
		}
		starter.open()
		if err := <-first; err != nil {
			t.Fatalf("the first request: %v", err)
		}
		if err := <-dup; err != nil || resp.GetOutput().GetTaskId() != "task-1" {
			t.Fatalf("the duplicate on a replica started later: %v, %v; want task-1", resp, err)
		}
		if n := starter.calls.Load(); n != 1 {
			t.Errorf("%d starts, want 1", n)
		}
	})
}

// chanOf returns a channel closed once a value arrives on c.
func chanOf(c <-chan string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		<-c
		close(done)
	}()
	return done
}

// TestDuplicateOfDeadReplicaGetsUnknownOutcome: a replica that stops renewing its lease while
// sending (cut off, as if dead) has its request given up once the lease runs out: the
// duplicate on another replica answers that the outcome is unknown, and is not sent again.
// The sender's late answer still lands for later duplicates.
func TestDuplicateOfDeadReplicaGetsUnknownOutcome(t *testing.T) {
	forEachStore(t, func(t *testing.T, store RequestStore) {
		ctx := clusterContext(t)
		const lease = 300 * time.Millisecond
		a := newReplica(store, "a", lease)
		a.store.cutOff.Store(true)
		b := newReplica(store, "b", lease)
		starter := newGatedStarter(t)
		first := make(chan error, 1)
		go func() {
			_, err := a.do(ctx, clusterKey, "h1", starter.on("a"))
			first <- err
		}()
		waitClosed(ctx, t, chanOf(starter.started), "replica a did not start the request")

		_, err := b.do(ctx, clusterKey, "h1", starter.on("b"))
		if !errors.Is(err, apierr.ErrEarlierOutcomeUnknown) {
			t.Errorf("the duplicate of a dead replica's request: %v, want ErrEarlierOutcomeUnknown", err)
		}
		starter.open()
		if err := <-first; err != nil {
			t.Fatalf("the first request: %v", err)
		}
		if resp, err := b.do(ctx, clusterKey, "h1", starter.on("b")); err != nil || resp.GetOutput().GetTaskId() != "task-1" {
			t.Errorf("a duplicate after the late answer: %v, %v; want task-1", resp, err)
		}
		if n := starter.calls.Load(); n != 1 {
			t.Errorf("%d starts, want 1", n)
		}
	})
}

// TestDuplicateGivesUpBeforeItsDeadline: a duplicate whose deadline ends before the request
// it waits for answers ErrRequestInProgress, before the deadline. In a synctest bubble, on
// SQLite: the store's calls take none of the bubble's time, so "before" is exact.
func TestDuplicateGivesUpBeforeItsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "requests.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		a, b := newReplica(store, "a", time.Minute), newReplica(store, "b", time.Minute)
		release := make(chan struct{})
		first := make(chan error, 1)
		go func() {
			_, err := a.do(ctx, clusterKey, "h1", func() (*cdv1.StartBatchResponse, error) {
				<-release
				return &cdv1.StartBatchResponse{Output: &cdv1.StartBatchOutput{TaskId: "task-1"}}, nil
			})
			first <- err
		}()
		synctest.Wait() // a is in its start

		const deadline = 2 * time.Second
		short, cancel := context.WithTimeout(ctx, deadline)
		defer cancel()
		began := time.Now()
		_, err = b.do(short, clusterKey, "h1", func() (*cdv1.StartBatchResponse, error) {
			t.Error("the duplicate was sent")
			return nil, nil
		})
		if !errors.Is(err, apierr.ErrRequestInProgress) {
			t.Errorf("a duplicate whose deadline ends first: %v, want ErrRequestInProgress", err)
		}
		if waited := time.Since(began); waited >= deadline || waited < deadline-requestPollInterval {
			t.Errorf("the duplicate answered after %v, want within the last poll interval before its %v deadline", waited, deadline)
		}
		close(release)
		if err := <-first; err != nil {
			t.Errorf("the first request: %v", err)
		}
	})
}

// TestDuplicateSendsWhatTheSenderReleased: a request that surely failed is released, and its
// duplicate waiting on another replica then sends it itself.
func TestDuplicateSendsWhatTheSenderReleased(t *testing.T) {
	forEachStore(t, func(t *testing.T, store RequestStore) {
		ctx := clusterContext(t)
		a, b := newReplica(store, "a", time.Minute), newReplica(store, "b", time.Minute)
		refused := &fiber.Error{Kind: fiber.KindOutOfCredits, Endpoint: fiber.EndpointStart, StatusCode: 402}
		release := make(chan struct{})
		started := make(chan struct{})
		first := make(chan error, 1)
		go func() {
			_, err := a.do(ctx, clusterKey, "h1", func() (*cdv1.StartBatchResponse, error) {
				close(started)
				<-release
				return nil, refused
			})
			first <- err
		}()
		waitClosed(ctx, t, started, "replica a did not start the request")
		dup := make(chan error, 1)
		var resp *cdv1.StartBatchResponse
		go func() {
			var err error
			resp, err = b.do(ctx, clusterKey, "h1", func() (*cdv1.StartBatchResponse, error) {
				return &cdv1.StartBatchResponse{Output: &cdv1.StartBatchOutput{TaskId: "task-b"}}, nil
			})
			dup <- err
		}()
		waitClosed(ctx, t, b.store.sawPending, "replica b never found the request pending")
		close(release)
		if err := <-first; !errors.Is(err, refused) {
			t.Fatalf("the first request: %v, want the refusal", err)
		}
		if err := <-dup; err != nil || !proto.Equal(resp, &cdv1.StartBatchResponse{Output: &cdv1.StartBatchOutput{TaskId: "task-b"}}) {
			t.Errorf("the duplicate after a release: %v, %v; want its own start's answer", resp, err)
		}
	})
}

// TestHeartbeatKeepsALongStartAlive: a start that takes many leases' time is not given up:
// its replica renews the lease meanwhile, and the duplicate on another replica waits for the
// answer. In a synctest bubble, where the SQLite store's clock is the bubble's.
func TestHeartbeatKeepsALongStartAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "requests.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		const lease = 15 * time.Second
		a, b := newReplica(store, "a", lease), newReplica(store, "b", lease)
		var starts atomic.Int32
		slow := func() (*cdv1.StartBatchResponse, error) {
			starts.Add(1)
			time.Sleep(10 * lease)
			return &cdv1.StartBatchResponse{Output: &cdv1.StartBatchOutput{TaskId: "task-1"}}, nil
		}
		first := make(chan error, 1)
		go func() {
			_, err := a.do(ctx, clusterKey, "h1", slow)
			first <- err
		}()
		synctest.Wait() // a is in its start

		began := time.Now()
		resp, err := b.do(ctx, clusterKey, "h1", slow)
		if err != nil || resp.GetOutput().GetTaskId() != "task-1" {
			t.Errorf("the duplicate of a long start: %v, %v; want task-1", resp, err)
		}
		if waited := time.Since(began); waited < 10*lease-time.Second {
			t.Errorf("the duplicate answered after %v, before the start ended", waited)
		}
		if err := <-first; err != nil {
			t.Errorf("the first request: %v", err)
		}
		if n := starts.Load(); n != 1 {
			t.Errorf("%d starts, want 1", n)
		}
	})
}
