package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/tlstest"
)

// tlsClients are the ways the TLS tests reach a server.
type tlsClients struct {
	p *proc
}

// health runs a gRPC health check over creds.
func (c tlsClients) health(t *testing.T, creds credentials.TransportCredentials) error {
	t.Helper()
	conn, err := grpc.NewClient(c.p.grpcAddr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health over TLS: %v", resp.GetStatus())
	}
	return err
}

// start runs StartBatch over creds.
func (c tlsClients) start(t *testing.T, creds credentials.TransportCredentials) (*cdv1.StartBatchResponse, error) {
	t.Helper()
	conn, err := grpc.NewClient(c.p.grpcAddr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return cdv1.NewContactDetailsServiceClient(conn).StartBatch(ctx, oneStart())
}

// rest sends a REST request to scheme://httpAddr with a transport using cfg (nil: plain
// HTTP) and returns the status and body, or the transport's error.
func (c tlsClients) rest(t *testing.T, scheme string, cfg *tls.Config, method, path, body string) (int, []byte, error) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, scheme+"://"+c.p.httpAddr+path, r)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// wantRefused checks that a gRPC call over a connection the server refuses fails UNAVAILABLE.
func wantRefused(t *testing.T, what string, err error) {
	t.Helper()
	if status.Code(err) != codes.Unavailable {
		t.Errorf("%s: %v, want UNAVAILABLE (the connection refused)", what, err)
	}
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "fibergate test CA")
	rogue := tlstest.NewCA(t, "someone else's CA")
	serverCert, serverKeyPEM := ca.Issue(t, "fibergate", true)
	clientCert := ca.KeyPair(t, "billing-service")
	rogueCert := rogue.KeyPair(t, "billing-service")
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)

	certFile := tlstest.WriteFile(t, dir, "server.pem", serverCert)
	keyFile := tlstest.WriteFile(t, dir, "server-key.pem", serverKeyPEM)
	caFile := tlstest.WriteFile(t, dir, "ca.pem", ca.PEM)

	withCert := &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{clientCert}, MinVersion: tls.VersionTLS12}
	withoutCert := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	// Sent whatever CAs the server asks for (a client picking from Certificates would send
	// none).
	withRogueCert := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &rogueCert, nil }}
	startBody := `{"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake"}}]}`

	t.Run("mutual", func(t *testing.T) {
		p := startServer(t, nil, "-fake-fiber", "-tls-cert", certFile, "-tls-key", keyFile, "-tls-client-ca", caFile)
		c := tlsClients{p}

		resp, err := c.start(t, credentials.NewTLS(withCert))
		if err != nil || resp.GetOutput().GetTaskId() == "" {
			t.Errorf("gRPC StartBatch with a client certificate: %v, %v", resp, err)
		}
		if err := c.health(t, credentials.NewTLS(withCert)); err != nil {
			t.Errorf("gRPC health with a client certificate: %v", err)
		}
		_, err = c.start(t, credentials.NewTLS(withoutCert))
		wantRefused(t, "gRPC StartBatch without a client certificate", err)
		wantRefused(t, "gRPC health without a client certificate", c.health(t, credentials.NewTLS(withoutCert)))
		_, err = c.start(t, credentials.NewTLS(withRogueCert))
		wantRefused(t, "gRPC StartBatch with a certificate of another CA", err)
		wantRefused(t, "gRPC health in plaintext", c.health(t, insecure.NewCredentials()))

		code, body, err := c.rest(t, "https", withCert, http.MethodPost, "/v1/contact-details/batch/start", startBody)
		if err != nil || code != http.StatusOK || !strings.Contains(string(body), `"taskId"`) {
			t.Errorf("REST StartBatch with a client certificate: HTTP %d, %v: %s", code, err, body)
		}
		if code, body, err := c.rest(t, "https", withCert, http.MethodGet, "/healthz", ""); err != nil || code != http.StatusOK {
			t.Errorf("REST /healthz with a client certificate: HTTP %d, %v: %s", code, err, body)
		}
		for _, tt := range []struct {
			name string
			cfg  *tls.Config
		}{{"without a client certificate", withoutCert}, {"with a certificate of another CA", withRogueCert}} {
			for _, path := range []string{"/healthz", "/v1/contact-details/batch"} {
				code, body, err := c.rest(t, "https", tt.cfg, http.MethodGet, path, "")
				if err == nil {
					t.Errorf("REST GET %s %s: HTTP %d, want the TLS handshake refused: %s", path, tt.name, code, body)
				}
			}
		}
		if code, body, err := c.rest(t, "http", nil, http.MethodGet, "/healthz", ""); err == nil && code == http.StatusOK {
			t.Errorf("REST in plaintext to the TLS port answered 200: %s", body)
		}
		if logs := p.logs.String(); strings.Contains(logs, "PRIVATE KEY") {
			t.Error("the server logged a private key")
		}
	})

	t.Run("server TLS only", func(t *testing.T) {
		p := startServer(t, nil, "-fake-fiber", "-tls-cert", certFile, "-tls-key", keyFile)
		c := tlsClients{p}
		if err := c.health(t, credentials.NewTLS(withoutCert)); err != nil {
			t.Errorf("gRPC health over TLS: %v", err)
		}
		if resp, err := c.start(t, credentials.NewTLS(withoutCert)); err != nil || resp.GetOutput().GetTaskId() == "" {
			t.Errorf("gRPC StartBatch over TLS: %v, %v", resp, err)
		}
		wantRefused(t, "gRPC health in plaintext", c.health(t, insecure.NewCredentials()))
		// A client that does not trust the server's CA refuses the server.
		wantRefused(t, "gRPC health trusting another CA", c.health(t, credentials.NewTLS(&tls.Config{RootCAs: x509.NewCertPool()})))

		if code, body, err := c.rest(t, "https", withoutCert, http.MethodGet, "/healthz", ""); err != nil || code != http.StatusOK {
			t.Errorf("REST /healthz over TLS: HTTP %d, %v: %s", code, err, body)
		}
		if code, body, err := c.rest(t, "https", withoutCert, http.MethodPost, "/v1/contact-details/batch/start", startBody); err != nil || code != http.StatusOK {
			t.Errorf("REST StartBatch over TLS: HTTP %d, %v: %s", code, err, body)
		}
		if code, body, err := c.rest(t, "http", nil, http.MethodGet, "/healthz", ""); err == nil && code == http.StatusOK {
			t.Errorf("REST in plaintext to the TLS port answered 200: %s", body)
		}
	})
}
