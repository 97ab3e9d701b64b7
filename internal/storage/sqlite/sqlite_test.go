package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/storage/sqlite"
	"github.com/fibergate/fibergate/internal/storage/storagetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var _ storagetest.Backend = (*sqlite.Store)(nil)

func TestContract(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Backend {
		s, err := sqlite.Open(testContext(t), filepath.Join(t.TempDir(), "fibergate.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// testContext returns a context that ends with the test, and after 10s at the latest.
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// openStore opens the store at path and closes it with the test.
func openStore(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(testContext(t), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// rawDB opens the database file at path directly, bypassing the store, and closes it with the
// test.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("closing raw db: %v", err)
		}
	})
	return db
}

// queryInt runs a query that returns one integer.
func queryInt(t *testing.T, db *sql.DB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(testContext(t), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// task is a running task with every field set.
func task(id string) storage.Task {
	at := time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)
	return storage.Task{
		ID: id, Owner: "alice", KeyID: "key-1",
		Enrichment:    storage.Enrichment{WorkEmails: true},
		StartResponse: []byte("start"),
		State:         storage.StateRunning,
		Stats:         storage.Stats{TotalPeopleToFetch: 3, NumRemaining: 3},
		Progress:      storage.Progress{Cursor: "c1"},
		CreateTime:    at,
		UpdateTime:    at.Add(time.Nanosecond),
	}
}

// fill creates task id in s with n results, returning the results.
func fill(t testing.TB, s *sqlite.Store, id string, n int) []storage.Result {
	t.Helper()
	ctx := testContext(t)
	if err := s.CreateTask(ctx, task(id)); err != nil {
		t.Fatalf("CreateTask: %v", err)
	}
	var want []storage.Result
	var data [][]byte
	for i := range n {
		d := []byte(strings.Repeat("x", i%7) + id)
		data = append(data, d)
		want = append(want, storage.Result{Seq: i + 1, Data: d})
	}
	if err := s.AppendResults(ctx, id, 0, data, storage.Update{State: storage.StateRunning, UpdateTime: time.Unix(1, 0)}); err != nil {
		t.Fatalf("AppendResults: %v", err)
	}
	return want
}

func TestTimes(t *testing.T) {
	ctx := testContext(t)
	s := openStore(t, filepath.Join(t.TempDir(), "fibergate.db"))
	in := task("task-1")
	in.CreateTime = time.Date(2030, 1, 2, 3, 4, 5, 999999999, time.FixedZone("X", -7*3600))
	in.FinishTime = time.Date(2262, 1, 1, 0, 0, 0, 1, time.UTC)
	if err := s.CreateTask(ctx, in); err != nil {
		t.Fatalf("CreateTask: %v", err)
	}
	got, err := s.GetTask(ctx, "task-1")
	if err != nil {
		t.Fatalf("GetTask: %v", err)
	}
	for _, tt := range []struct {
		name      string
		got, want time.Time
	}{
		{"CreateTime", got.CreateTime, in.CreateTime},
		{"UpdateTime", got.UpdateTime, in.UpdateTime},
		{"FinishTime", got.FinishTime, in.FinishTime},
	} {
		if !tt.got.Equal(tt.want) || tt.got.Location() != time.UTC {
			t.Errorf("%s = %v, want %v in UTC", tt.name, tt.got, tt.want.UTC())
		}
	}

	bad := []time.Time{time.Unix(0, 0), time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, tm := range bad {
		tk := task("bad")
		tk.CreateTime = tm
		if err := s.CreateTask(ctx, tk); err == nil {
			t.Errorf("CreateTask with CreateTime %v succeeded, want an error", tm)
		}
	}
}

func TestAPIEdges(t *testing.T) {
	ctx := testContext(t)
	s := openStore(t, filepath.Join(t.TempDir(), "fibergate.db"))
	fill(t, s, "task-1", 3)

	rs, err := s.ReadResults(ctx, "unknown", 0, 10)
	if err != nil || rs == nil || len(rs) != 0 {
		t.Errorf("ReadResults(unknown task) = %#v, %v; want an empty slice", rs, err)
	}
	rs, err = s.ReadResults(ctx, "task-1", 0, 0)
	if err != nil || len(rs) != 0 {
		t.Errorf("ReadResults(limit 0) = %v, %v; want none", rs, err)
	}
	for _, f := range []storage.ListFilter{{PageSize: 10}, {Owner: "alice"}, {Owner: "alice", PageSize: -1}} {
		if _, _, err := s.ListTasks(ctx, f); err == nil {
			t.Errorf("ListTasks(%+v) succeeded, want an error", f)
		}
	}
	withResults := task("task-2")
	withResults.NumResults = 4
	if err := s.CreateTask(ctx, withResults); err == nil {
		t.Errorf("CreateTask(NumResults 4) succeeded, want an error")
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	err = s.AppendResults(canceled, "task-1", 3, [][]byte{[]byte("late")}, storage.Update{UpdateTime: time.Unix(5, 0)})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("AppendResults(canceled) = %v, want %v", err, context.Canceled)
	}
	got, err := s.GetTask(ctx, "task-1")
	if err != nil || got.NumResults != 3 {
		t.Errorf("after a canceled append: NumResults %d, %v; want 3", got.NumResults, err)
	}
}
