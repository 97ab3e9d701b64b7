package sqlite_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/storage/sqlite"
)

// TestOpenLockedIsExclusive: while a store is open with OpenLocked, a second OpenLocked of the
// file fails, saying to use PostgreSQL, and readers (Open) still read it; after Close the
// lock is free.
func TestOpenLockedIsExclusive(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "fibergate.db")
	first, err := sqlite.OpenLocked(ctx, path)
	if err != nil {
		t.Fatalf("OpenLocked: %v", err)
	}
	if err := first.CreateTask(ctx, storage.Task{ID: "t1", Owner: "alice", State: storage.StateRunning}); err != nil {
		t.Fatal(err)
	}

	// The same path by another name is the same file.
	for _, p := range []string{path, filepath.Join(filepath.Dir(path), ".", "fibergate.db")} {
		second, err := sqlite.OpenLocked(ctx, p)
		if err == nil {
			second.Close()
			t.Fatalf("a second OpenLocked(%s) succeeded while the first holds the lock", p)
		}
		if !errors.Is(err, sqlite.ErrLocked) || !strings.Contains(err.Error(), "PostgreSQL") {
			t.Errorf("second OpenLocked: %v, want ErrLocked, naming PostgreSQL", err)
		}
	}

	reader := openStore(t, path)
	if _, err := reader.GetTask(ctx, "t1"); err != nil {
		t.Errorf("a reader of the locked store: %v", err)
	}

	fi, err := os.Stat(path + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file mode %v, want 0600", fi.Mode().Perm())
	}

	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	again, err := sqlite.OpenLocked(ctx, path)
	if err != nil {
		t.Fatalf("OpenLocked after Close: %v", err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenLockedFailureReleasesLock: an OpenLocked that fails after taking the lock releases
// it.
func TestOpenLockedFailureReleasesLock(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "fibergate.db")
	if err := os.WriteFile(path, []byte("not a database, but long enough to be read as one's header"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := sqlite.OpenLocked(ctx, path); err == nil {
		s.Close()
		t.Fatal("OpenLocked of a file that is no database succeeded")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.OpenLocked(ctx, path)
	if err != nil {
		t.Fatalf("OpenLocked after a failed one: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
