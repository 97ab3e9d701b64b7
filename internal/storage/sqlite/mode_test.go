//go:build unix

package sqlite_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// checkModes fails the test unless the database and its WAL side files exist with mode 0600.
func checkModes(t *testing.T, path string) {
	t.Helper()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
			continue
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s has mode %v, want %v", filepath.Base(p), got, fs.FileMode(0o600))
		}
	}
}

// TestFileModeNewFile creates the files under an empty umask, where anything not explicitly
// restricted would come out world-readable. Not parallel: the umask is the process's.
func TestFileModeNewFile(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })

	path := filepath.Join(t.TempDir(), "fibergate.db")
	fill(t, openStore(t, path), "task-1", 10)
	checkModes(t, path)
}

// TestFileModeExistingFiles loosens the modes of a database in use, with a WAL holding data
// (SQLite only gives the main file's mode to the side files it creates empty).
func TestFileModeExistingFiles(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "fibergate.db")
	s := openStore(t, path)
	fill(t, s, "task-1", 10)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	other := rawDB(t, path) // another process, still writing
	if _, err := other.ExecContext(ctx, "UPDATE tasks SET key_id = 'key-2'"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	s = openStore(t, path)
	checkModes(t, path)
	got, err := s.GetTask(ctx, "task-1")
	if err != nil || got.KeyID != "key-2" {
		t.Errorf("GetTask after reopening = %+v, %v; want the other process's write", got, err)
	}
}
