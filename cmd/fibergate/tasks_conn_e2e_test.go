package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fibergate/fibergate/internal/auth"
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
	ca := newConnTestCA(t, "fibergate cli test CA")
	other := newConnTestCA(t, "someone else's CA")
	caFile := connWritePEM(t, dir, "ca.pem", ca.pem)
	otherFile := connWritePEM(t, dir, "other-ca.pem", other.pem)
	serverCert, serverKey := ca.issue(t, "fibergate", true)
	clientCert, clientKey := ca.issue(t, "cli", false)
	certFile, keyFile := connWritePEM(t, dir, "server.pem", serverCert), connWritePEM(t, dir, "server-key.pem", serverKey)
	clientCertFile, clientKeyFile := connWritePEM(t, dir, "client.pem", clientCert), connWritePEM(t, dir, "client-key.pem", clientKey)

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

// connTestCA is a certificate authority made for one test.
type connTestCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newConnTestCA(t *testing.T, name string) *connTestCA {
	t.Helper()
	key := connECKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &connTestCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func connECKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// issue signs a leaf certificate, for 127.0.0.1 and localhost when server is true, else a
// client certificate for name, and returns it and its key as PEM.
func (ca *connTestCA) issue(t *testing.T, name string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key := connECKey(t)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// connWritePEM writes b to dir/name and returns the path.
func connWritePEM(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
