package storagetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/storage"
)

// Lease terms of the suite. A held lease is one of heldTTL, which no test outlives. A lease
// of goneTTL has expired by the backend's next statement: a round trip to a database takes
// far longer.
const (
	heldTTL = time.Hour
	goneTTL = time.Microsecond
	// expiryTTL is the lease testLeaseExpiry waits out, by the backend's clock.
	expiryTTL = 300 * time.Millisecond
)

// Replicas of the suite.
const (
	replicaA = "replica-a"
	replicaB = "replica-b"
)

// RunLeases runs the lease and fence part of the contract (LeaseBackend) on a backend that
// leases tasks, each subtest in parallel on its own store, as Run does. Run it besides Run.
//
// Leases expire by the backend's clock, which the suite cannot fix: one subtest waits for a
// lease of expiryTTL to run out, polling, and no test asserts an upper bound on time.
func RunLeases(t *testing.T, open func(t *testing.T) LeaseBackend) {
	tests := []testCase[LeaseBackend]{
		{"ClaimTasks", testClaimTasks},
		{"ConcurrentClaimTasks", testConcurrentClaimTasks},
		{"ClaimTask", testClaimTask},
		{"LeaseExpiry", testLeaseExpiry},
		{"RenewLeases", testRenewLeases},
		{"ReleaseLeases", testReleaseLeases},
		{"FencedAppend", testFencedAppend},
	}
	runCases(t, open, tests)
}

func testClaimTasks(t *testing.T, s LeaseBackend) {
	ctx := testContext(t)
	// alice's unfinished tasks, created out of id order; one finished; bob's under another key.
	mustCreate(ctx, t, s,
		running("a-3", "alice", 3), running("a-1", "alice", 1), running("a-2", "alice", 2),
		running("a-4", "alice", 4), finished("a-0", "alice", 0, storage.StateSucceeded, 5),
		running("b-1", "bob", 0))
	alice := []string{"key-alice"}

	claim := func(replica string, keys []string, max int, want ...string) {
		t.Helper()
		got, err := s.ClaimTasks(ctx, replica, keys, heldTTL, max)
		if err != nil {
			t.Fatalf("ClaimTasks(%s, %v, %d): %v", replica, keys, max, err)
		}
		if diff := cmp.Diff(want, got, equateEmpty()); diff != "" {
			t.Errorf("ClaimTasks(%s, %v, %d) (-want +got):\n%s", replica, keys, max, diff)
		}
	}
	claim(replicaA, alice, 2, "a-1", "a-2")  // oldest first, at most max
	claim(replicaB, alice, 10, "a-3", "a-4") // what A holds is not free
	claim(replicaA, alice, 10)               // nothing left, finished a-0 included
	claim(replicaA, nil, 10)                 // no key, no task
	claim(replicaA, []string{"key-alice", "key-bob"}, 10, "b-1")
	if ok, err := s.ClaimTask(ctx, replicaB, "a-1", heldTTL); err != nil || ok {
		t.Errorf("ClaimTask(B, a-1) after A claimed it = %v, %v; want false", ok, err)
	}
	if ok, err := s.ClaimTask(ctx, replicaA, "a-3", heldTTL); err != nil || ok {
		t.Errorf("ClaimTask(A, a-3) after B claimed it = %v, %v; want false", ok, err)
	}
}

func testConcurrentClaimTasks(t *testing.T, s LeaseBackend) {
	ctx := testContext(t)
	const n = 60
	var want []string
	for i := range n {
		task := running(fmt.Sprintf("task-%02d", i), "alice", i%7) // some share a create time
		mustCreate(ctx, t, s, task)
		want = append(want, task.ID)
	}
	// Replicas claim a few at a time until a round finds nothing: whatever the interleaving,
	// every task goes to exactly one of them.
	var (
		mu  sync.Mutex // guards got
		got = map[string][]string{}
	)
	errs := race(appenders, func(g int) error {
		replica := fmt.Sprintf("replica-%d", g)
		for range n + 1 {
			ids, err := s.ClaimTasks(ctx, replica, []string{"key-alice"}, heldTTL, 3)
			if err != nil {
				return err
			}
			if len(ids) > 3 {
				return fmt.Errorf("%s claimed %d tasks, max 3", replica, len(ids))
			}
			if len(ids) == 0 {
				return nil
			}
			mu.Lock()
			for _, id := range ids {
				got[id] = append(got[id], replica)
			}
			mu.Unlock()
		}
		return fmt.Errorf("%s: claims never ran dry", replica)
	})
	for g, err := range errs {
		if err != nil {
			t.Errorf("claimer %d: %v", g, err)
		}
	}
	for id, replicas := range got {
		if len(replicas) > 1 {
			t.Errorf("%s was claimed by %v", id, replicas)
		}
	}
	if diff := cmp.Diff(want, slices.Sorted(maps.Keys(got))); diff != "" {
		t.Errorf("tasks claimed (-want +got):\n%s", diff)
	}
}

func testClaimTask(t *testing.T, s LeaseBackend) {
	ctx := testContext(t)
	mustCreate(ctx, t, s, running("task-1", "alice", 0), finished("done", "alice", 0, storage.StateCanceled, 1))
	tests := []struct {
		replica, id string
		want        bool
	}{
		{replicaA, "task-1", true},  // free
		{replicaB, "task-1", false}, // A holds it
		{replicaA, "task-1", true},  // A holds it still: extended
		{replicaB, "done", false},   // finished
	}
	for _, tt := range tests {
		if got, err := s.ClaimTask(ctx, tt.replica, tt.id, heldTTL); err != nil || got != tt.want {
			t.Errorf("ClaimTask(%s, %s) = %v, %v; want %v", tt.replica, tt.id, got, err, tt.want)
		}
	}
	_, err := s.ClaimTask(ctx, replicaA, "unknown", heldTTL)
	wantErr(t, "ClaimTask(unknown)", err, storage.ErrNotFound)
	if ids, err := s.ClaimTasks(ctx, replicaB, []string{"key-alice"}, heldTTL, 10); err != nil || len(ids) != 0 {
		t.Errorf("ClaimTasks(B) = %v, %v; want none: A holds task-1", ids, err)
	}
}

// testLeaseExpiry: a lease runs out by the backend's clock, not before its ttl; then another
// replica may claim the task, and the first can neither renew it nor write to it.
func testLeaseExpiry(t *testing.T, s LeaseBackend) {
	ctx := testContext(t)
	mustCreate(ctx, t, s, running("task-1", "alice", 0), running("task-2", "alice", 1))
	start := time.Now()
	if ids, err := s.ClaimTasks(ctx, replicaA, []string{"key-alice"}, expiryTTL, 10); err != nil || !slices.Equal(ids, []string{"task-1", "task-2"}) {
		t.Fatalf("ClaimTasks(A) = %v, %v; want both tasks", ids, err)
	}
	var one bool
	for i := 0; !one; i++ {
		if i == 500 {
			t.Fatalf("B could not claim task-1 within 500 tries (%v) of A's lease of %v", time.Since(start), expiryTTL)
		}
		var err error
		if one, err = s.ClaimTask(ctx, replicaB, "task-1", heldTTL); err != nil {
			t.Fatal(err)
		}
		if !one {
			time.Sleep(expiryTTL / 30)
		}
	}
	if took := time.Since(start); took < expiryTTL {
		t.Errorf("B claimed task-1 %v after A's claim of %v", took, expiryTTL)
	}
	ids, err := s.ClaimTasks(ctx, replicaB, []string{"key-alice"}, heldTTL, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{"task-2"}) {
		t.Errorf("ClaimTasks(B) after A's leases expired = %v, want [task-2]", ids)
	}
	if kept, err := s.RenewLeases(ctx, replicaA, []string{"task-1", "task-2"}, heldTTL); err != nil || len(kept) != 0 {
		t.Errorf("RenewLeases(A) of expired leases = %v, %v; want none", kept, err)
	}
	checkFenceRefused(t, s, "task-1", replicaA)
}

func testRenewLeases(t *testing.T, s LeaseBackend) {
	ctx := testContext(t)
	for i := 1; i <= 5; i++ {
		mustCreate(ctx, t, s, running(fmt.Sprintf("task-%d", i), "alice", i))
	}
	mustLease(t, s, replicaA, "task-1", heldTTL)
	mustLease(t, s, replicaA, "task-2", heldTTL)
	mustLease(t, s, replicaB, "task-3", heldTTL)
	mustLease(t, s, replicaA, "task-5", goneTTL) // expired by now
	// task-4: never leased.
	kept, err := s.RenewLeases(ctx, replicaA, []string{"task-1", "task-2", "task-3", "task-4", "task-5", "unknown"}, heldTTL)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(kept)
	if diff := cmp.Diff([]string{"task-1", "task-2"}, kept); diff != "" {
		t.Errorf("RenewLeases(A) (-want +got):\n%s", diff)
	}
	if kept, err := s.RenewLeases(ctx, replicaA, nil, heldTTL); err != nil || len(kept) != 0 {
		t.Errorf("RenewLeases(A, none) = %v, %v", kept, err)
	}
	// Renewing sets the lease to ttl from now, also shorter than it was.
	if kept, err := s.RenewLeases(ctx, replicaA, []string{"task-1"}, goneTTL); err != nil || !slices.Equal(kept, []string{"task-1"}) {
		t.Fatalf("RenewLeases(A, task-1, %v) = %v, %v", goneTTL, kept, err)
	}
	if ok, err := s.ClaimTask(ctx, replicaB, "task-1", heldTTL); err != nil || !ok {
		t.Errorf("ClaimTask(B, task-1) once A's renewed lease ran out = %v, %v; want true", ok, err)
	}
	if ok, err := s.ClaimTask(ctx, replicaB, "task-2", heldTTL); err != nil || ok {
		t.Errorf("ClaimTask(B, task-2) while A's renewed lease lives = %v, %v; want false", ok, err)
	}
}

func testReleaseLeases(t *testing.T, s LeaseBackend) {
	ctx := testContext(t)
	for i := 1; i <= 3; i++ {
		mustCreate(ctx, t, s, running(fmt.Sprintf("task-%d", i), "alice", i))
	}
	mustLease(t, s, replicaA, "task-1", heldTTL)
	mustLease(t, s, replicaA, "task-2", heldTTL)
	mustLease(t, s, replicaB, "task-3", heldTTL)
	if err := s.ReleaseLeases(ctx, replicaA, "task-1", "task-3", "unknown"); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseLeases(ctx, replicaA); err != nil {
		t.Errorf("ReleaseLeases(A, none): %v", err)
	}
	if ids, err := s.ClaimTasks(ctx, "replica-c", []string{"key-alice"}, heldTTL, 10); err != nil || !slices.Equal(ids, []string{"task-1"}) {
		t.Errorf("ClaimTasks(C) after A released task-1 = %v, %v; want [task-1]: A keeps task-2, B task-3", ids, err)
	}
	checkFenceRefused(t, s, "task-1", replicaA)

	// A lease goes with its task.
	if err := s.AppendResults(ctx, "task-2", 0, nil, finishedUpdate(replicaA)); err != nil {
		t.Fatalf("finish task-2: %v", err)
	}
	if err := s.DeleteTask(ctx, "task-2"); err != nil {
		t.Fatal(err)
	}
	mustCreate(ctx, t, s, running("task-2", "alice", 9))
	if ok, err := s.ClaimTask(ctx, replicaB, "task-2", heldTTL); err != nil || !ok {
		t.Errorf("ClaimTask(B) of a task created anew under a deleted task's id = %v, %v; want true", ok, err)
	}
}

func testFencedAppend(t *testing.T, s LeaseBackend) {
	ctx := testContext(t)
	mustCreate(ctx, t, s, running("task-1", "alice", 0), running("free", "alice", 1))
	mustLease(t, s, replicaA, "task-1", heldTTL)

	fenced := updateFor(2, 1)
	fenced.Fence = replicaA
	mustAppend(ctx, t, s, "task-1", 0, payloads("a", 2), fenced)
	checkFenceRefused(t, s, "task-1", replicaB) // another replica
	checkFenceRefused(t, s, "free", replicaA)   // nobody's

	err := s.AppendResults(ctx, "task-1", 0, payloads("stale", 1), fenced)
	wantErr(t, "AppendResults(held lease, stale fromSeq)", err, storage.ErrConflict)
	err = s.AppendResults(ctx, "unknown", 0, nil, fenced)
	wantErr(t, "AppendResults(fenced, unknown task)", err, storage.ErrNotFound)

	// Unfenced writes go through whoever holds the task.
	mustAppend(ctx, t, s, "task-1", 2, payloads("b", 1), updateFor(3, 2))

	// An expired lease fences as no lease.
	mustLease(t, s, replicaA, "free", goneTTL)
	checkFenceRefused(t, s, "free", replicaA)
	if diff := cmp.Diff(append(asResults(1, payloads("a", 2)), asResults(3, payloads("b", 1))...), mustRead(ctx, t, s, "task-1", 0, 10)); diff != "" {
		t.Errorf("results of task-1 (-want +got):\n%s", diff)
	}
}

// checkFenceRefused checks that a write fenced by replica to the task, from its current
// result count, is refused with storage.ErrLeaseLost and writes nothing.
func checkFenceRefused(t *testing.T, s LeaseBackend, id, replica string) {
	t.Helper()
	ctx := testContext(t)
	before := mustGet(ctx, t, s, id)
	results := mustRead(ctx, t, s, id, 0, 1000)
	u := finishedUpdate(replica)
	err := s.AppendResults(ctx, id, before.NumResults, payloads("fenced-"+replica, 3), u)
	if !errors.Is(err, storage.ErrLeaseLost) {
		t.Errorf("AppendResults(%s) fenced by %s = %v, want %v", id, replica, err, storage.ErrLeaseLost)
	}
	if diff := cmp.Diff(before, mustGet(ctx, t, s, id), equateEmpty()); diff != "" {
		t.Errorf("%s changed by a refused fenced append (-want +got):\n%s", id, diff)
	}
	if diff := cmp.Diff(results, mustRead(ctx, t, s, id, 0, 1000), equateEmpty()); diff != "" {
		t.Errorf("results of %s changed by a refused fenced append (-want +got):\n%s", id, diff)
	}
}

// finishedUpdate is an update that ends a task SUCCEEDED, fenced by replica.
func finishedUpdate(replica string) storage.Update {
	u := updateFor(0, 30)
	u.State, u.FinishTime, u.Fence = storage.StateSucceeded, at(30), replica
	return u
}

func mustLease(t *testing.T, s LeaseBackend, replica, id string, ttl time.Duration) {
	t.Helper()
	if ok, err := s.ClaimTask(testContext(t), replica, id, ttl); err != nil || !ok {
		t.Fatalf("ClaimTask(%s, %s) = %v, %v; want true", replica, id, ok, err)
	}
}
