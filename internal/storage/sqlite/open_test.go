package sqlite_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/storage/sqlite"
)

func TestPersistsAcrossReopen(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "fibergate.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	want := fill(t, s, "task-1", 50)
	wantTask, err := s.GetTask(ctx, "task-1")
	if err != nil {
		t.Fatalf("GetTask: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Closing the last connection checkpoints the WAL into the file and removes the side
	// files: proof that Close closed every connection.
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(path + suffix); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after Close: %v, want it gone", suffix, err)
		}
	}

	for range 2 { // reopening twice: the second migration finds nothing to do
		s := openStore(t, path)
		got, err := s.GetTask(ctx, "task-1")
		if err != nil {
			t.Fatalf("GetTask after reopen: %v", err)
		}
		if diff := cmp.Diff(wantTask, got); diff != "" {
			t.Errorf("task after reopen (-want +got):\n%s", diff)
		}
		rs, err := s.ReadResults(ctx, "task-1", 0, 100)
		if err != nil {
			t.Fatalf("ReadResults after reopen: %v", err)
		}
		if diff := cmp.Diff(want, rs); diff != "" {
			t.Errorf("results after reopen (-want +got):\n%s", diff)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if v := queryInt(t, rawDB(t, path), "PRAGMA user_version"); v != 6 {
		t.Errorf("user_version = %d, want 6", v)
	}
}

func TestWALMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fibergate.db")
	openStore(t, path)
	var mode string
	if err := rawDB(t, path).QueryRowContext(testContext(t), "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatalf("PRAGMA journal_mode: %v", err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fibergate.db")
	s, err := sqlite.Open(testContext(t), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	fill(t, s, "task-1", 3)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	db := rawDB(t, path)
	if _, err := db.ExecContext(testContext(t), "PRAGMA user_version = 99"); err != nil {
		t.Fatalf("setting user_version: %v", err)
	}

	_, err = sqlite.Open(testContext(t), path)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open(newer schema) = %v, want an error about a newer schema", err)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM results"); n != 3 {
		t.Errorf("%d results left, want the 3 untouched", n)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, path string }{
		{"not a database", garbage},
		{"a directory", dir},
		{"missing directory", filepath.Join(dir, "missing", "fibergate.db")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sqlite.Open(testContext(t), tt.path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s) succeeded, want an error", tt.path)
			}
			if !strings.Contains(err.Error(), tt.path) {
				t.Errorf("Open error %q does not name the file", err)
			}
		})
	}
}

func TestPathNeedingEscapes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a?b#c%20d e", "fibergate.db")
	if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	fill(t, openStore(t, path), "task-1", 1)
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at its path: %v", err)
	}
	entries, err := os.ReadDir(filepath.Dir(filepath.Dir(path)))
	if err != nil || len(entries) != 1 {
		t.Errorf("files beside the database directory: %v, %v; want it alone", entries, err)
	}
}

func TestTwoStoresOnOneFile(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "fibergate.db")
	a, b := openStore(t, path), openStore(t, path)
	fill(t, a, "task-1", 2)
	got, err := b.GetTask(ctx, "task-1")
	if err != nil || got.NumResults != 2 {
		t.Fatalf("GetTask through the other store = %+v, %v; want the task with 2 results", got, err)
	}
	u := storage.Update{State: storage.StateRunning, UpdateTime: time.Unix(2, 0)}
	if err := b.AppendResults(ctx, "task-1", 2, [][]byte{[]byte("b")}, u); err != nil {
		t.Fatalf("AppendResults through b: %v", err)
	}
	err = a.AppendResults(ctx, "task-1", 2, [][]byte{[]byte("a")}, u)
	if !errors.Is(err, storage.ErrConflict) {
		t.Errorf("stale AppendResults through a = %v, want %v", err, storage.ErrConflict)
	}
}
