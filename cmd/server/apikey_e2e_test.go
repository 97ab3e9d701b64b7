package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

// writeKeyFile writes content to a 0600 file in a temporary directory and returns its path.
func writeKeyFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fiber-key")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFakeFiberAcceptsTheConfiguredKey(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  []string
		args []string
	}{
		{"FIBER_API_KEY", []string{"FIBER_API_KEY=" + serverKey}, nil},
		{"-fiber-api-key-file", nil, []string{"-fiber-api-key-file", writeKeyFile(t, serverKey+"\n")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := startServer(t, tt.env, append([]string{"-fake-fiber"}, tt.args...)...)
			resp, err := p.dial(t).StartBatch(testContext(t), oneStart())
			if err != nil {
				t.Fatalf("StartBatch on the simulator with the configured key: %v", err)
			}
			if resp.GetOutput().GetTaskId() == "" || resp.GetChargeInfo().GetChargedNow() == nil {
				t.Errorf("StartBatch answered %v, want a task and a charge", resp)
			}
			if err := p.stop(); err != nil {
				t.Errorf("server exit: %v", err)
			}
			logs := p.logs.String()
			mustContain(t, logs, "using the built-in Fiber simulator with the configured Fiber key")
			assertNoSecrets(t, logs)
		})
	}
}

func TestFiberAPIKeyFileIsUsedAndNeverLogged(t *testing.T) {
	sim, url := newUpstream(t)
	// No FIBER_API_KEY: the key comes from the file alone, surrounded by white space.
	p := startServer(t, nil, "-fiber-url", url, "-fiber-api-key-file", writeKeyFile(t, "\n  "+serverKey+" \n"), "-log-level", "debug")
	if _, err := p.dial(t).StartBatch(testContext(t), oneStart()); err != nil {
		t.Fatalf("StartBatch with the key from the file: %v", err)
	}
	if got, _ := sim.Credits(serverKey); got != 100000-5 {
		t.Errorf("the file's key was not the one charged: balance %v, want %v", got, 100000-5)
	}
	if n := sim.Calls(fiberfake.EndpointStart); n != 1 {
		t.Errorf("%d upstream starts, want 1", n)
	}
	if err := p.stop(); err != nil {
		t.Errorf("server exit: %v", err)
	}
	logs := p.logs.String()
	if strings.Contains(logs, "no Fiber API key configured") {
		t.Error("the server said it has no key")
	}
	assertNoSecrets(t, logs)
}

func TestEmptyFiberAPIKeyFileFailsStartUp(t *testing.T) {
	for _, content := range []string{"", " \n\t\n"} {
		out, err := runServerToExit(t, []string{"FIBER_API_KEY=" + serverKey}, "-insecure-no-auth", "-fiber-api-key-file", writeKeyFile(t, content))
		if err == nil {
			t.Fatalf("key file %q: the server started", content)
		}
		mustContain(t, out, "-fiber-api-key-file", "empty")
		assertNoSecrets(t, out)
	}
}

func TestReadAPIKeyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key, err := readAPIKeyFile(write("key", "  sk-file-key \n"))
	if err != nil || key != "sk-file-key" {
		t.Errorf("read %q, %v; want the key without white space", key, err)
	}
	for _, content := range []string{"", "\n", " \t\r\n "} {
		if key, err := readAPIKeyFile(write("empty", content)); err == nil || !strings.Contains(err.Error(), "empty") {
			t.Errorf("file %q: %q, %v; want an error saying it is empty", content, key, err)
		}
	}
	if _, err := readAPIKeyFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file was accepted")
	}
}

// TestKeyFileWinsOverTheEnvironmentAndSaysSo: with both sources, the file's key is used and
// the start-up log says so (without either key).
func TestKeyFileWinsOverTheEnvironmentAndSaysSo(t *testing.T) {
	sim, url := newUpstream(t)
	p := startServer(t, []string{"FIBER_API_KEY=" + requestKey}, "-fiber-url", url, "-fiber-api-key-file", writeKeyFile(t, serverKey))
	if _, err := p.dial(t).StartBatch(testContext(t), oneStart()); err != nil {
		t.Fatal(err)
	}
	if got, _ := sim.Credits(serverKey); got != 100000-5 {
		t.Errorf("the file's key was not the one charged: balance %v", got)
	}
	mustContain(t, p.logs.String(), "both set: using the file's key")
	assertNoSecrets(t, p.logs.String())
}
