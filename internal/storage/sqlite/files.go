package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// fileMode is the only mode the database and its side files may have: results are personal
// data, readable by the service's user alone.
const fileMode fs.FileMode = 0o600

// prepareFiles creates the database file with fileMode before SQLite opens it (SQLite would
// create it 0644 less the umask), and brings an existing file and its side files to fileMode.
func prepareFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return restrictFiles(path)
}

// restrictFiles brings the database file and the side files that exist to fileMode.
func restrictFiles(path string) error {
	if err := restrictPath(path); err != nil {
		return err
	}
	return restrictSideFiles(path)
}

// restrictSideFiles brings the files SQLite keeps beside the database that exist to fileMode:
// the WAL and its index, and a rollback journal left from before WAL mode.
func restrictSideFiles(path string) error {
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := restrictPath(path + suffix); err != nil {
			return err
		}
	}
	return nil
}

// restrictPath applies restrict to the file at path if there is one.
func restrictPath(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // a side file SQLite has not created, or has removed
	}
	if err != nil {
		return err
	}
	err = restrict(f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// restrict checks that f is a regular file and sets its mode to fileMode. It works on the open
// file, so a file replaced meanwhile is not what gets changed.
func restrict(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("not a regular file (%v)", fi.Mode().Type())
	}
	if fi.Mode().Perm() == fileMode {
		return nil
	}
	if err := f.Chmod(fileMode); err != nil {
		return fmt.Errorf("restrict mode %v to %v: %w", fi.Mode().Perm(), fileMode, err)
	}
	return nil
}
