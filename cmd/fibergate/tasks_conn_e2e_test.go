package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fibergate/fibergate/internal/auth"
	"github.com/fibergate/fibergate/internal/tlstest"
)

// The callers' tokens: distinctive, so that a leak is easy to find.
const (
	connAliceToken = "tok-cli-alice-93b1f07c2d5e84a6"
	connWrongToken = "tok-cli-wrong-4a8d2f61c07e93b5"
)

func TestConnTokenE2E(t *testing.T) {
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("alice "+auth.HashToken(connAliceToken)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st := startStack(t, nil, []string{"-tokens-file", tokens})
	id := tasksStart(t, st.server.GRPCAddr, connAliceToken, "cli-e2e-token", 1)

	var runs []tasksRun
	alice := tasksCLI(t, tasksAddrEnv(st, "FIBERGATE_TOKEN="+connAliceToken), "list", "-json")
	alice.want(t, exitOK)
	if !strings.Contains(alice.stdout, id) {
		t.Errorf("alice's list lacks her task %s:\n%s", id, alice.stdout)
	}
	runs = append(runs, alice)
	for _, cmd := range [][]string{{"get", id}, {"watch", id}, {"list"}} {
		wrong := tasksCLI(t, tasksAddrEnv(st, "FIBERGATE_TOKEN="+connWrongToken), cmd...)
		wrong.want(t, exitError, "Unauthenticated UNAUTHENTICATED", "invalid bearer token")
		none := tasksCLI(t, tasksAddrEnv(st), cmd...)
		none.want(t, exitError, "Unauthenticated UNAUTHENTICATED")
		runs = append(runs, wrong, none)
	}
	for _, r := range runs {
		for _, tok := range []string{connAliceToken, connWrongToken} {
			if strings.Contains(r.stdout+r.stderr, tok) {
				t.Errorf("fibergate %q printed a token:\nstdout: %s\nstderr: %s", r.args, r.stdout, r.stderr)
			}
		}
	}
}

func TestConnTLSE2E(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "fibergate cli test CA")
	other := tlstest.NewCA(t, "someone else's CA")
	caFile := tlstest.WriteFile(t, dir, "ca.pem", ca.PEM)
	otherFile := tlstest.WriteFile(t, dir, "other-ca.pem", other.PEM)
	serverCert, serverKey := ca.Issue(t, "fibergate", true)
	clientCert, clientKey := ca.Issue(t, "cli", false)
	certFile, keyFile := tlstest.WriteFile(t, dir, "server.pem", serverCert), tlstest.WriteFile(t, dir, "server-key.pem", serverKey)
	clientCertFile, clientKeyFile := tlstest.WriteFile(t, dir, "client.pem", clientCert), tlstest.WriteFile(t, dir, "client-key.pem", clientKey)

	t.Run("server TLS", func(t *testing.T) {
		st := startStack(t, nil, []string{"-tls-cert", certFile, "-tls-key", keyFile})
		vars := tasksAddrEnv(st)
		tasksCLI(t, vars, "list", "-tls-ca", caFile).want(t, exitOK)
		// By name, as the certificate also says: localhost.
		_, port, _ := net.SplitHostPort(st.server.GRPCAddr)
		tasksCLI(t, nil, "list", "-addr", "localhost:"+port, "-tls-ca", caFile).want(t, exitOK)
		tasksCLI(t, vars, "list", "-tls-ca", caFile, "-tls-server-name", "fibergate.example.com").
			want(t, exitError, "cannot reach the server", "fibergate.example.com")
		// Loopback goes in plaintext by default: refused by a TLS server.
		tasksCLI(t, vars, "list").want(t, exitError, "cannot reach the server")
		tasksCLI(t, vars, "list", "-tls-ca", otherFile).want(t, exitError, "cannot reach the server", "certificate")
	})

	t.Run("mutual TLS", func(t *testing.T) {
		st := startStack(t, nil, []string{"-tls-cert", certFile, "-tls-key", keyFile, "-tls-client-ca", caFile})
		vars := tasksAddrEnv(st)
		tasksCLI(t, vars, "list", "-tls-ca", caFile, "-tls-cert", clientCertFile, "-tls-key", clientKeyFile).want(t, exitOK)
		tasksCLI(t, vars, "list", "-tls-ca", caFile).want(t, exitError, "cannot reach the server")
	})
}
