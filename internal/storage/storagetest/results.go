package storagetest

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/storage"
)

func testAppendResultsSequence(t *testing.T, s Backend) {
	ctx := testContext(t)
	task := running("task-1", "alice", 0)
	mustCreate(ctx, t, s, task)

	first, second := payloads("first", 3), payloads("second", 2)
	mustAppend(ctx, t, s, "task-1", 0, first, updateFor(3, 1))
	mustAppend(ctx, t, s, "task-1", 3, nil, updateFor(3, 2)) // a poll that found nothing new
	mustAppend(ctx, t, s, "task-1", 3, second, updateFor(5, 3))

	want := append(asResults(1, first), asResults(4, second)...)
	if diff := cmp.Diff(want, mustRead(ctx, t, s, "task-1", 0, 100)); diff != "" {
		t.Errorf("ReadResults (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(applied(task, updateFor(5, 3), 5), mustGet(ctx, t, s, "task-1"), equateEmpty()); diff != "" {
		t.Errorf("task after the appends (-want +got):\n%s", diff)
	}
}

func testAppendResultsAppliesUpdate(t *testing.T, s Backend) {
	ctx := testContext(t)
	tests := []struct {
		name string
		u    storage.Update
	}{
		{"progress", updateFor(2, 5)},
		{"every field", storage.Update{
			State: storage.StateSucceeded,
			Stats: storage.Stats{TotalPeopleToFetch: 9, NumCompleted: 8, NumFailed: 7,
				NumRemaining: 6, NumRejected: 5, NumDuplicates: 4},
			Progress:   storage.Progress{Cursor: "last-cursor", Skip: 3, FiberDone: true},
			UpdateTime: at(60).Add(123),
			FinishTime: at(61).Add(456),
		}},
		{"fields back to zero", storage.Update{State: storage.StateRunning, UpdateTime: at(70)}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := finished(fmt.Sprintf("task-%d", i), "alice", 0, storage.StateFailed, 1)
			task.Stats = storage.Stats{TotalPeopleToFetch: 1, NumCompleted: 2, NumFailed: 3,
				NumRemaining: 4, NumRejected: 5, NumDuplicates: 6}
			mustCreate(ctx, t, s, task)
			mustAppend(ctx, t, s, task.ID, 0, payloads(task.ID, 2), tt.u)
			if diff := cmp.Diff(applied(task, tt.u, 2), mustGet(ctx, t, s, task.ID), equateEmpty()); diff != "" {
				t.Errorf("task after AppendResults (-want +got):\n%s", diff)
			}
		})
	}
}

func testAppendResultsConflict(t *testing.T, s Backend) {
	ctx := testContext(t)
	mustCreate(ctx, t, s, running("task-1", "alice", 0))
	mustAppend(ctx, t, s, "task-1", 0, payloads("ok", 3), updateFor(3, 1))
	before := mustGet(ctx, t, s, "task-1")

	for _, fromSeq := range []int{0, 2, 4, 10, -1} {
		t.Run(fmt.Sprintf("from=%d", fromSeq), func(t *testing.T) {
			end := updateFor(99, 50)
			end.State, end.FinishTime = storage.StateCanceled, at(50)
			err := s.AppendResults(ctx, "task-1", fromSeq, payloads("stale", 2), end)
			wantErr(t, "AppendResults(stale fromSeq)", err, storage.ErrConflict)
			if diff := cmp.Diff(before, mustGet(ctx, t, s, "task-1"), equateEmpty()); diff != "" {
				t.Errorf("task changed by a refused append (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(asResults(1, payloads("ok", 3)), mustRead(ctx, t, s, "task-1", 0, 100)); diff != "" {
				t.Errorf("results changed by a refused append (-want +got):\n%s", diff)
			}
		})
	}
	// Empty appends are checked too: they move the cursor.
	err := s.AppendResults(ctx, "task-1", 2, nil, updateFor(2, 60))
	wantErr(t, "AppendResults(stale fromSeq, no results)", err, storage.ErrConflict)
	if diff := cmp.Diff(before, mustGet(ctx, t, s, "task-1"), equateEmpty()); diff != "" {
		t.Errorf("task changed by a refused empty append (-want +got):\n%s", diff)
	}
}

func testReadResultsPaging(t *testing.T, s Backend) {
	ctx := testContext(t)
	mustCreate(ctx, t, s, running("task-1", "alice", 0), running("empty", "alice", 0), running("other", "bob", 0))
	var all [][]byte
	for _, n := range []int{30, 170, 1, 49} { // 250 in all, some appends large
		page := payloads(fmt.Sprintf("p%d", len(all)), n)
		mustAppend(ctx, t, s, "task-1", len(all), page, updateFor(len(all)+n, 1))
		all = append(all, page...)
	}
	mustAppend(ctx, t, s, "other", 0, payloads("other", 5), updateFor(5, 1))

	tests := []struct {
		id              string
		afterSeq, limit int
		want            []storage.Result
	}{
		{"task-1", 0, 100, asResults(1, all[0:100])},
		{"task-1", 100, 100, asResults(101, all[100:200])},
		{"task-1", 200, 100, asResults(201, all[200:250])},
		{"task-1", 250, 100, nil},
		{"task-1", 1000, 100, nil},
		{"task-1", 17, 3, asResults(18, all[17:20])},
		{"task-1", 249, 1, asResults(250, all[249:250])},
		{"task-1", 0, 1000, asResults(1, all)},
		{"task-1", -5, 2, asResults(1, all[0:2])},
		{"empty", 0, 100, nil},
		{"other", 0, 100, asResults(1, payloads("other", 5))},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/after=%d/limit=%d", tt.id, tt.afterSeq, tt.limit), func(t *testing.T) {
			got := mustRead(ctx, t, s, tt.id, tt.afterSeq, tt.limit)
			if diff := cmp.Diff(tt.want, got, equateEmpty()); diff != "" {
				t.Errorf("ReadResults mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func testResultsBinarySafe(t *testing.T, s Backend) {
	ctx := testContext(t)
	mustCreate(ctx, t, s, running("task-1", "alice", 0))
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	data := [][]byte{
		allBytes,
		{},
		bytes.Repeat([]byte("contact details "), 64<<10/16), // 64 KiB
		{0},
		[]byte("plain"),
	}
	mustAppend(ctx, t, s, "task-1", 0, data, updateFor(len(data), 1))
	got := mustRead(ctx, t, s, "task-1", 0, 10)
	if diff := cmp.Diff(asResults(1, data), got, equateEmpty()); diff != "" {
		t.Errorf("ReadResults mismatch (-want +got):\n%s", diff)
	}
}
