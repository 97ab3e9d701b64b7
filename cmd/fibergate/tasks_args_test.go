package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// tasksRunInProcess runs the command line args in this process with getenv's environment.
// It is for mistakes found before any call: nothing here reaches the network.
func tasksRunInProcess(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut,
		getenv: func(k string) string { return vars[k] }}, args)
	return code, out.String(), errOut.String()
}

func TestTasksArgs(t *testing.T) {
	long := strings.Repeat("a", 129)
	for _, tc := range []struct {
		args []string
		code int
		want string // in stderr
	}{
		{[]string{"get", "-h"}, exitOK, "Usage: fibergate get [flags] TASK_ID"},
		{[]string{"list", "-h"}, exitOK, "-state"},
		{[]string{"watch", "-h"}, exitOK, "-resume-token"},
		{[]string{"results", "-h"}, exitOK, "NDJSON"},
		{[]string{"get"}, exitUsage, "get wants TASK_ID, got 0 arguments"},
		{[]string{"get", "a", "b"}, exitUsage, "get wants TASK_ID, got 2 arguments"},
		{[]string{"list", "extra"}, exitUsage, `list takes no arguments, got ["extra"]`},
		{[]string{"get", "bad id"}, exitUsage, `task id "bad id": want 1 to 128`},
		{[]string{"watch", "../etc"}, exitUsage, `task id "../etc"`},
		{[]string{"cancel", long}, exitUsage, "want 1 to 128"},
		{[]string{"results", "x/y"}, exitUsage, `task id "x/y"`},
		{[]string{"delete", ""}, exitUsage, `task id ""`},
		{[]string{"get", "-frob", "t"}, exitUsage, "flag provided but not defined: -frob"},
		{[]string{"get", "t", "-timeout", "0s"}, exitUsage, "-timeout must be positive"},
		{[]string{"list", "-state", "done"}, exitUsage, "want running, succeeded, failed or canceled"},
		{[]string{"list", "-limit", "-1"}, exitUsage, "-limit must be 0 (all) or more"},
		{[]string{"watch", "t", "-resume-token", strings.Repeat("x", 513)}, exitUsage, "-resume-token"},
	} {
		code, stdout, stderr := tasksRunInProcess(t, nil, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("fibergate %q = %d, stdout %q, stderr %q; want %d and %q", tc.args, code, stdout, stderr, tc.code, tc.want)
		}
		if code != exitOK && strings.Count(stderr, "\n") != 1 {
			t.Errorf("fibergate %q: the error is not one line: %q", tc.args, stderr)
		}
	}
}

func TestTasksStateFlag(t *testing.T) {
	for in, want := range map[string]string{"running": "running", "SUCCEEDED": "succeeded", "Failed": "failed",
		"cancelled": "canceled", "TASK_STATE_CANCELED": "canceled"} {
		var s stateFlag
		if err := s.Set(in); err != nil || s.String() != want {
			t.Errorf("-state %s = %q, %v; want %q", in, s.String(), err, want)
		}
	}
	for _, in := range []string{"", "unspecified", "TASK_STATE_UNSPECIFIED", "done"} {
		var s stateFlag
		if err := s.Set(in); err == nil {
			t.Errorf("-state %q accepted as %q", in, s.String())
		}
	}
}

// The connection flags are checked before anything is sent, and the token never shows.
func TestConnRefusesBeforeDialing(t *testing.T) {
	const token = "tok-conn-test-5c1e9a7d3b"
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, tc := range []struct {
		vars map[string]string
		args []string
		want string
	}{
		{map[string]string{"FIBERGATE_TOKEN": token}, []string{"get", "t", "-addr", "fibergate.example.com:9090", "-plaintext"},
			"refusing to send FIBERGATE_TOKEN in plaintext to fibergate.example.com"},
		{nil, []string{"get", "t", "-plaintext", "-tls-ca", missing}, "-plaintext and TLS flags exclude each other"},
		{nil, []string{"list", "-tls-cert", missing}, "-tls-cert and -tls-key go together"},
		{nil, []string{"list", "-tls-ca", missing}, "-tls-ca: open " + missing},
		{map[string]string{"FIBERGATE_ADDR": "no-port"}, []string{"list"}, `-addr "no-port": want host:port`},
	} {
		code, stdout, stderr := tasksRunInProcess(t, tc.vars, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("fibergate %q = %d, stderr %q; want %d and %q", tc.args, code, stderr, exitUsage, tc.want)
		}
		if strings.Contains(stdout+stderr, token) {
			t.Errorf("fibergate %q printed the token: %q", tc.args, stderr)
		}
	}
}
