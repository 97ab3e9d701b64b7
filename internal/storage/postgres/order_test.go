package postgres_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/storage/postgres/pgtest"
)

// TestByteOrder: ids order byte by byte, as the contract says, in a database whose collation
// orders text otherwise (pgtest's, where the server has ICU).
func TestByteOrder(t *testing.T) {
	dsn := pgtest.NewSchema(t, pgtest.NewDatabase(t))
	ctx := testContext(t)
	var linguistic bool
	if err := rawConn(t, dsn).QueryRow(ctx, `SELECT 'a' < 'B'`).Scan(&linguistic); err != nil {
		t.Fatal(err)
	}
	if !linguistic {
		t.Skip("the database's collation orders text by its bytes: nothing to tell apart")
	}
	s := openStore(t, dsn)

	ids := []string{"a", "B", "_x", "Z", "b", "ä", "A-1", "a1"}
	at := time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)
	for _, id := range ids {
		if err := s.CreateTask(ctx, storage.Task{ID: id, Owner: "alice", State: storage.StateRunning, CreateTime: at, UpdateTime: at}); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordAmbiguousStart(ctx, storage.AmbiguousStart{ID: id, Time: at, Owner: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	asc := slices.Clone(ids)
	slices.Sort(asc) // Go compares strings byte by byte
	desc := slices.Clone(asc)
	slices.Reverse(desc)

	// Page by 3, so that the page keys compare ids too.
	var listed []string
	f := storage.ListFilter{Owner: "alice", PageSize: 3}
	for range len(ids) {
		page, next, err := s.ListTasks(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range page {
			listed = append(listed, task.ID)
		}
		if next == nil {
			break
		}
		f.After = *next
	}
	if diff := cmp.Diff(desc, listed); diff != "" {
		t.Errorf("ListTasks order (-want +got):\n%s", diff)
	}

	starts, err := s.ListAmbiguousStarts(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range starts {
		got = append(got, a.ID)
	}
	if diff := cmp.Diff(asc, got); diff != "" {
		t.Errorf("ListAmbiguousStarts order (-want +got):\n%s", diff)
	}
}
