package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/launch"
)

// Binaries built once for the end-to-end tests: the server, the standalone simulator and
// this command itself, run as a user runs them.
var serverBin, fakeBin, cliBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fibergate-cli-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	bins, err := launch.Build(ctx, dir, launch.ServerPkg, launch.FiberfakePkg, launch.ClientPkg)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	serverBin, fakeBin, cliBin = bins[0], bins[1], bins[2]
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// stack is a server in front of a standalone simulator, both stopped at the test's cleanup.
type stack struct {
	fake   *launch.Fake
	server *launch.Server
}

// startStack runs the simulator with fakeArgs and the server in front of it with serverArgs,
// on a store of its own in the test's temporary directory and without caller authentication
// (serverArgs may add -tokens-file). The server's Fiber key is the simulator's demo key.
func startStack(t testing.TB, fakeArgs, serverArgs []string) *stack {
	t.Helper()
	fake, err := launch.StartFake(fakeBin, fakeArgs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := fake.Stop(); err != nil {
			t.Errorf("simulator stop: %v", err)
		}
	})
	args := append([]string{
		"-fiber-url", "http://" + fake.Addr,
		"-store", "sqlite:" + filepath.Join(t.TempDir(), "fibergate.db"),
		"-insecure-no-auth",
	}, serverArgs...)
	srv, err := launch.StartServer(serverBin, []string{"FIBER_API_KEY=" + fiberfake.DemoAPIKey}, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("server stop: %v\n%s", err, srv.Logs())
		}
	})
	return &stack{fake: fake, server: srv}
}
