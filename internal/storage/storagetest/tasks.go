package storagetest

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fibergate/fibergate/internal/storage"
)

func testCreateGetRoundTrip(t *testing.T, s Backend) {
	ctx := testContext(t)
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	tests := []struct {
		name string
		task storage.Task
	}{
		{"every field set", storage.Task{
			ID:            "task-full",
			Owner:         "alice",
			KeyID:         "key-7f3a",
			Enrichment:    storage.Enrichment{WorkEmails: true, PersonalEmails: true, PhoneNumbers: true},
			StartResponse: allBytes,
			Cancellation:  []byte("refund\x00ü"),
			State:         storage.StateFailed,
			Stats: storage.Stats{TotalPeopleToFetch: 11, NumCompleted: 2, NumFailed: 3,
				NumRemaining: 4, NumRejected: 5, NumDuplicates: 6},
			Progress:   storage.Progress{Cursor: "cursor/ü+=", Skip: 17, FiberDone: true},
			CreateTime: at(0),
			UpdateTime: at(1).Add(1),
			FinishTime: at(2).Add(999),
		}},
		{"adopted, nothing yet", storage.Task{
			ID:         "task-adopted",
			Owner:      "bob",
			KeyID:      "key-1",
			State:      storage.StateRunning,
			CreateTime: at(3),
			UpdateTime: at(3),
		}},
		{"one enrichment, far times", storage.Task{
			ID:         "task-far",
			Owner:      "bob",
			KeyID:      "key-1",
			Enrichment: storage.Enrichment{PersonalEmails: true},
			State:      storage.StateCanceled,
			CreateTime: at(-40 * 365 * 24 * 3600),
			UpdateTime: at(200 * 365 * 24 * 3600),
			FinishTime: at(200 * 365 * 24 * 3600),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustCreate(ctx, t, s, tt.task)
			got := mustGet(ctx, t, s, tt.task.ID)
			if diff := cmp.Diff(tt.task, got, equateEmpty()); diff != "" {
				t.Errorf("GetTask(%s) mismatch (-created +got):\n%s", tt.task.ID, diff)
			}
		})
	}
}

func testCreateExists(t *testing.T, s Backend) {
	ctx := testContext(t)
	orig := running("task-1", "alice", 0)
	mustCreate(ctx, t, s, orig)

	again := finished("task-1", "mallory", 5, storage.StateSucceeded, 6)
	wantErr(t, "CreateTask(existing id)", s.CreateTask(ctx, again), storage.ErrExists)
	if diff := cmp.Diff(orig, mustGet(ctx, t, s, "task-1"), equateEmpty()); diff != "" {
		t.Errorf("task changed by a refused CreateTask (-want +got):\n%s", diff)
	}
}

func testNotFound(t *testing.T, s Backend) {
	ctx := testContext(t)
	mustCreate(ctx, t, s, running("deleted", "alice", 0), running("other", "alice", 1))
	if err := s.DeleteTask(ctx, "deleted"); err != nil {
		t.Fatalf("DeleteTask: %v", err)
	}
	for _, id := range []string{"unknown", "deleted", "OTHER", ""} {
		_, err := s.GetTask(ctx, id)
		wantErr(t, "GetTask("+id+")", err, storage.ErrNotFound)
		wantErr(t, "DeleteTask("+id+")", s.DeleteTask(ctx, id), storage.ErrNotFound)
		err = s.AppendResults(ctx, id, 0, payloads(id, 2), updateFor(2, 1))
		wantErr(t, "AppendResults("+id+")", err, storage.ErrNotFound)
	}
	if got := mustGet(ctx, t, s, "other").NumResults; got != 0 {
		t.Errorf("other task has %d results, want 0", got)
	}
}

func testListUnfinished(t *testing.T, s Backend) {
	ctx := testContext(t)
	got, err := s.ListUnfinished(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("ListUnfinished on an empty store = %v, %v; want none", got, err)
	}

	mustCreate(ctx, t, s,
		running("a-run", "alice", 0),
		finished("a-ok", "alice", 1, storage.StateSucceeded, 2),
		finished("a-fail", "alice", 2, storage.StateFailed, 3),
		running("b-run", "bob", 3),
		finished("b-cancel", "bob", 4, storage.StateCanceled, 5),
		running("b-ending", "bob", 5),
		running("c-run", "carol", 6),
	)
	end := updateFor(0, 7)
	end.State, end.FinishTime = storage.StateSucceeded, at(7)
	mustAppend(ctx, t, s, "b-ending", 0, nil, end)

	got, err = s.ListUnfinished(ctx)
	if err != nil {
		t.Fatalf("ListUnfinished: %v", err)
	}
	want := []storage.Task{running("a-run", "alice", 0), running("b-run", "bob", 3), running("c-run", "carol", 6)}
	sortByID := cmpopts.SortSlices(func(a, b storage.Task) bool { return a.ID < b.ID })
	if diff := cmp.Diff(want, got, sortByID, equateEmpty()); diff != "" {
		t.Errorf("ListUnfinished mismatch (-want +got):\n%s", diff)
	}
}

func testDeleteTask(t *testing.T, s Backend) {
	ctx := testContext(t)
	mustCreate(ctx, t, s, running("gone", "alice", 0), running("kept", "alice", 1))
	mustAppend(ctx, t, s, "gone", 0, payloads("gone", 5), updateFor(5, 2))
	mustAppend(ctx, t, s, "kept", 0, payloads("kept", 3), updateFor(3, 2))

	if err := s.DeleteTask(ctx, "gone"); err != nil {
		t.Fatalf("DeleteTask: %v", err)
	}
	_, err := s.GetTask(ctx, "gone")
	wantErr(t, "GetTask after DeleteTask", err, storage.ErrNotFound)
	wantErr(t, "second DeleteTask", s.DeleteTask(ctx, "gone"), storage.ErrNotFound)
	if got := mustRead(ctx, t, s, "gone", 0, 100); len(got) != 0 {
		t.Errorf("ReadResults after DeleteTask = %d results, want none", len(got))
	}

	// A new task with the same id starts from nothing: no result of the old one is left.
	fresh := running("gone", "bob", 3)
	mustCreate(ctx, t, s, fresh)
	if got := mustRead(ctx, t, s, "gone", 0, 100); len(got) != 0 {
		t.Errorf("ReadResults of a re-created task = %v, want none", got)
	}
	mustAppend(ctx, t, s, "gone", 0, payloads("new", 1), updateFor(1, 4))
	if diff := cmp.Diff(asResults(1, payloads("new", 1)), mustRead(ctx, t, s, "gone", 0, 100)); diff != "" {
		t.Errorf("results of the re-created task (-want +got):\n%s", diff)
	}

	if diff := cmp.Diff(asResults(1, payloads("kept", 3)), mustRead(ctx, t, s, "kept", 0, 100)); diff != "" {
		t.Errorf("another task's results changed (-want +got):\n%s", diff)
	}
}

func testPurgeFinished(t *testing.T, s Backend) {
	ctx := testContext(t)
	const cutoff = 100
	tasks := []struct {
		task   storage.Task
		purged bool
	}{
		{finished("ok-early", "alice", 0, storage.StateSucceeded, 10), true},
		{finished("failed-early", "bob", 0, storage.StateFailed, 20), true},
		{finished("canceled-just-before", "alice", 0, storage.StateCanceled, cutoff-1), true},
		{finished("ok-at-cutoff", "alice", 0, storage.StateSucceeded, cutoff), false},
		{finished("ok-late", "alice", 0, storage.StateSucceeded, cutoff+50), false},
		{running("running-old", "alice", 0), false},
		// A running task is never purged, whatever its FinishTime says.
		{finished("running-with-finish", "alice", 0, storage.StateRunning, 5), false},
	}
	for _, tt := range tasks {
		mustCreate(ctx, t, s, tt.task)
		mustAppend(ctx, t, s, tt.task.ID, 0, payloads(tt.task.ID, 3), storage.Update{
			State: tt.task.State, Stats: tt.task.Stats, Progress: tt.task.Progress,
			UpdateTime: tt.task.UpdateTime, FinishTime: tt.task.FinishTime,
		})
	}
	// Finished through AppendResults rather than at creation.
	mustCreate(ctx, t, s, running("ended-by-append", "carol", 0))
	end := updateFor(0, 30)
	end.State, end.FinishTime = storage.StateFailed, at(30)
	mustAppend(ctx, t, s, "ended-by-append", 0, payloads("e", 2), end)

	n, err := s.PurgeFinished(ctx, at(cutoff))
	if err != nil {
		t.Fatalf("PurgeFinished: %v", err)
	}
	if n != 4 {
		t.Errorf("PurgeFinished = %d, want 4", n)
	}
	tasks = append(tasks, struct {
		task   storage.Task
		purged bool
	}{storage.Task{ID: "ended-by-append"}, true})
	for _, tt := range tasks {
		_, err := s.GetTask(ctx, tt.task.ID)
		switch {
		case tt.purged:
			wantErr(t, "GetTask("+tt.task.ID+") after purge", err, storage.ErrNotFound)
			if got := mustRead(ctx, t, s, tt.task.ID, 0, 10); len(got) != 0 {
				t.Errorf("%s: %d results left after purge", tt.task.ID, len(got))
			}
		case err != nil:
			t.Errorf("GetTask(%s): %v; it should not have been purged", tt.task.ID, err)
		default:
			if got := mustRead(ctx, t, s, tt.task.ID, 0, 10); len(got) != 3 {
				t.Errorf("%s: %d results, want 3", tt.task.ID, len(got))
			}
		}
	}

	if n, err := s.PurgeFinished(ctx, at(cutoff)); n != 0 || err != nil {
		t.Errorf("second PurgeFinished = %d, %v; want 0, nil", n, err)
	}
}

// testSetCancellation: SetCancellation stores the task's Cancellation and nothing else; an
// append after it keeps it; an unknown task is ErrNotFound.
func testSetCancellation(t *testing.T, s Backend) {
	ctx := testContext(t)
	want := running("t1", "alice", 0)
	if err := s.CreateTask(ctx, want); err != nil {
		t.Fatal(err)
	}
	want.Cancellation = []byte{0, 1, 2, 0xff}
	if err := s.SetCancellation(ctx, "t1", want.Cancellation); err != nil {
		t.Fatalf("SetCancellation: %v", err)
	}
	got, err := s.GetTask(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, equateEmpty()); diff != "" {
		t.Errorf("task after SetCancellation (-want +got):\n%s", diff)
	}
	u := storage.Update{State: storage.StateCanceled, Stats: want.Stats, Progress: want.Progress, UpdateTime: at(5), FinishTime: at(5)}
	if err := s.AppendResults(ctx, "t1", 0, nil, u); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetTask(ctx, "t1"); err != nil || string(got.Cancellation) != string(want.Cancellation) {
		t.Errorf("after an append: %q, %v; want the cancellation kept", got.Cancellation, err)
	}
	if err := s.SetCancellation(ctx, "nope", []byte("x")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("SetCancellation of an unknown task: %v, want ErrNotFound", err)
	}
}
