//go:build !unix

package sqlite

import (
	"errors"
	"os"
)

// tryLock fails: this system has no flock, and a server must not share the file unknowingly.
func tryLock(*os.File) error {
	return errors.New("file locks are not supported on this system")
}
