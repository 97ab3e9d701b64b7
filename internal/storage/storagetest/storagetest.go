// Package storagetest holds the storage contract and the suite that checks it. Backend is
// what a storage backend implements, each method's contract in its comment; a backend's own
// tests call Run with a function that opens a new, empty store, and declare
// var _ storagetest.Backend = (*Store)(nil).
//
// A backend that several processes share leases tasks to them (LeaseBackend): its tests also
// call RunLeases, and declare var _ storagetest.LeaseBackend = (*Store)(nil). Such a backend
// also lets them take turns at the periodic purges (PurgeTurnBackend): its tests also call
// RunPurgeTurns.
//
// The suite uses nothing but the Backend interface. It is deterministic: times are
// fixed, and the concurrency tests assert what must hold under any interleaving rather than
// relying on timing. Leases expire by the backend's own clock: RunLeases waits for one to run
// out, with a bounded loop, and asserts no upper bound on time. Request leases, too, run by
// the backend's clock, which the suite does not set: it grants leases that outlive the test
// or have run out when granted, and bounds a lease's expiry only relative to another; and
// RunPurgeTurns waits, with a bounded loop, for a turn to come again.
//
// # What the contract leaves to each backend
//
// The suite tests nothing about ReadResults on an unknown task (an error or no results),
// invalid ListFilters, PurgeFinished on terminal tasks without a FinishTime, and times a
// backend cannot represent; what ClaimRequest returns as existing when it claims, the
// Response given to a claim, a Request whose ExpireTime is not after its CreateTime, a
// request lease of zero, and FinishRequest on a record that has expired but is not purged. No consumer depends on
// them; a backend documents in its package comment what it does.
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fibergate/fibergate/internal/storage"
)

// timeout bounds every call a subtest makes.
const timeout = 20 * time.Second

// Run runs the contract suite, each subtest in parallel on its own store.
//
// open must return a new, empty store, and may be called from several goroutines at once.
// The suite closes the store at the end of the subtest and fails if Close fails; open may
// register further clean-up with t.Cleanup (removing files, flushing a server), which then
// runs after Close.
func Run(t *testing.T, open func(t *testing.T) Backend) {
	tests := []testCase[Backend]{
		{"CreateGetRoundTrip", testCreateGetRoundTrip},
		{"CreateExists", testCreateExists},
		{"NotFound", testNotFound},
		{"ListTasksOrderAndFilter", testListTasksOrderAndFilter},
		{"ListTasksPaging", testListTasksPaging},
		{"ListTasksPagingStable", testListTasksPagingStable},
		{"ListUnfinished", testListUnfinished},
		{"DeleteTask", testDeleteTask},
		{"SetCancellation", testSetCancellation},
		{"PurgeFinished", testPurgeFinished},
		{"AppendResultsSequence", testAppendResultsSequence},
		{"AppendResultsAppliesUpdate", testAppendResultsAppliesUpdate},
		{"AppendResultsConflict", testAppendResultsConflict},
		{"ReadResultsPaging", testReadResultsPaging},
		{"ResultsBinarySafe", testResultsBinarySafe},
		{"RacingAppendersSameSeq", testRacingAppendersSameSeq},
		{"ConcurrentAppenders", testConcurrentAppenders},
		{"ReadersSeeWholeAppends", testReadersSeeWholeAppends},
		{"ClaimGetRoundTrip", testClaimGetRoundTrip},
		{"ClaimExisting", testClaimExisting},
		{"ClaimExpired", testClaimExpired},
		{"ConcurrentClaims", testConcurrentClaims},
		{"FinishRequest", testFinishRequest},
		{"RequestNotFound", testRequestNotFound},
		{"GetRequestExpired", testGetRequestExpired},
		{"ReleaseRequest", testReleaseRequest},
		{"PurgeRequests", testPurgeRequests},
		{"RequestLeaseRoundTrip", testRequestLeaseRoundTrip},
		{"RenewRequestFenced", testRenewRequestFenced},
		{"ResolveRequest", testResolveRequest},
		{"RenewRacesResolve", testRenewRacesResolve},
		{"AmbiguousStarts", testAmbiguousStarts},
		{"Ping", testPing},
	}
	runCases(t, open, tests)
}

// testContext returns a context that ends with the test, or after timeout.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// at is the suite's fixed clock: sec seconds after a base time with nanoseconds, in a zone
// that is not UTC, so that backends must keep the instant exactly whatever the location.
func at(sec int) time.Time {
	base := time.Date(2025, time.March, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+1", 3600))
	return base.Add(time.Duration(sec) * time.Second)
}

// running is a running task of owner created at at(sec), every field set.
func running(id, owner string, sec int) storage.Task {
	return storage.Task{
		ID:            id,
		Owner:         owner,
		KeyID:         "key-" + owner,
		Enrichment:    storage.Enrichment{WorkEmails: true, PhoneNumbers: true},
		StartResponse: []byte(`{"task":"` + id + `"}`),
		State:         storage.StateRunning,
		Stats:         storage.Stats{TotalPeopleToFetch: 10, NumRemaining: 10},
		Progress:      storage.Progress{Cursor: "c0", Skip: 1},
		CreateTime:    at(sec),
		UpdateTime:    at(sec),
	}
}

// finished is running(id, owner, sec) ended in state at at(finishSec).
func finished(id, owner string, sec int, state storage.State, finishSec int) storage.Task {
	t := running(id, owner, sec)
	t.State = state
	t.Progress.FiberDone = true
	t.UpdateTime, t.FinishTime = at(finishSec), at(finishSec)
	return t
}

// payloads returns n distinct results whose content names tag and their position.
func payloads(tag string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "%s/%d", tag, i)
	}
	return out
}

// asResults numbers data from first on.
func asResults(first int, data [][]byte) []storage.Result {
	out := make([]storage.Result, len(data))
	for i, d := range data {
		out[i] = storage.Result{Seq: first + i, Data: d}
	}
	return out
}

// updateFor is an update that reflects n stored results, every field set.
func updateFor(n, sec int) storage.Update {
	return storage.Update{
		State:      storage.StateRunning,
		Stats:      storage.Stats{TotalPeopleToFetch: 1000, NumCompleted: n, NumRemaining: 1000 - n},
		Progress:   storage.Progress{Cursor: fmt.Sprintf("c%d", n), Skip: n % 7},
		UpdateTime: at(sec),
	}
}

// applied is t after u and n more results.
func applied(t storage.Task, u storage.Update, n int) storage.Task {
	t.State, t.Stats, t.Progress = u.State, u.Stats, u.Progress
	t.UpdateTime, t.FinishTime = u.UpdateTime, u.FinishTime
	t.NumResults += n
	return t
}

// equateEmpty makes nil and empty slices equal: a backend may return either for nothing.
func equateEmpty() cmp.Option { return cmpopts.EquateEmpty() }

func mustCreate(ctx context.Context, t *testing.T, s Backend, tasks ...storage.Task) {
	t.Helper()
	for _, task := range tasks {
		if err := s.CreateTask(ctx, task); err != nil {
			t.Fatalf("CreateTask(%s): %v", task.ID, err)
		}
	}
}

func mustGet(ctx context.Context, t *testing.T, s Backend, id string) storage.Task {
	t.Helper()
	task, err := s.GetTask(ctx, id)
	if err != nil {
		t.Fatalf("GetTask(%s): %v", id, err)
	}
	return task
}

func mustAppend(ctx context.Context, t *testing.T, s Backend, id string, fromSeq int, data [][]byte, u storage.Update) {
	t.Helper()
	if err := s.AppendResults(ctx, id, fromSeq, data, u); err != nil {
		t.Fatalf("AppendResults(%s, from %d, %d results): %v", id, fromSeq, len(data), err)
	}
}

func mustRead(ctx context.Context, t *testing.T, s Backend, id string, afterSeq, limit int) []storage.Result {
	t.Helper()
	rs, err := s.ReadResults(ctx, id, afterSeq, limit)
	if err != nil {
		t.Fatalf("ReadResults(%s, after %d, limit %d): %v", id, afterSeq, limit, err)
	}
	return rs
}

// wantErr fails the test unless err is target.
func wantErr(t *testing.T, call string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s = %v, want %v", call, err, target)
	}
}

// testPing: an open store answers a ping, empty or not; a ping
// whose context has ended fails.
func testPing(t *testing.T, s Backend) {
	ctx := testContext(t)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping on an open store: %v", err)
	}
	mustCreate(ctx, t, s, running("pinged", "alice", 0))
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping on a store holding a task: %v", err)
	}
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Ping(ended); err == nil {
		t.Error("Ping with an ended context: nil, want an error")
	}
}

// testCase is one subtest of a suite run against backends of type B.
type testCase[B io.Closer] struct {
	name string
	run  func(t *testing.T, s B)
}

// runCases runs each case as a parallel subtest on a store of its own from open, closed when
// the subtest ends.
func runCases[B io.Closer](t *testing.T, open func(t *testing.T) B, tests []testCase[B]) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.run(t, s)
		})
	}
}
