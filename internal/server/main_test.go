package server_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the benchmarks, or, when the test binary is re-executed as a benchmark's
// client process (watchClientEnv set), that client.
func TestMain(m *testing.M) {
	if spec := os.Getenv(watchClientEnv); spec != "" {
		if err := runWatchClient(spec, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "watch client:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
