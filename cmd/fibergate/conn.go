package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// defaultAddr is the server's default gRPC address.
const defaultAddr = "localhost:9090"

// maxRecvMsgSize bounds one answer: a results page or watch message of up to 1000 results.
const maxRecvMsgSize = 64 << 20

// cliBackoff paces reconnection to a server that went away: grpc's default with a cap of 5s.
var cliBackoff = backoff.Config{BaseDelay: time.Second, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 5 * time.Second}

// connFlags are the connection flags every command takes.
type connFlags struct {
	addr              string
	plaintext         bool
	caFile            string
	certFile, keyFile string
	serverName        string
	token             string // from FIBERGATE_TOKEN, never from a flag
}

// register adds the flags to fs. getenv gives FIBERGATE_ADDR's default and the token.
func (c *connFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	addr := getenv("FIBERGATE_ADDR")
	if addr == "" {
		addr = defaultAddr
	}
	fs.StringVar(&c.addr, "addr", addr, "server's gRPC address, host:port (env FIBERGATE_ADDR)")
	fs.BoolVar(&c.plaintext, "plaintext", false, "no TLS, also to an address that is not loopback")
	fs.StringVar(&c.caFile, "tls-ca", "", "PEM file of the CA that signed the server's certificate (default: the system's)")
	fs.StringVar(&c.certFile, "tls-cert", "", "PEM client certificate, for mTLS (with -tls-key)")
	fs.StringVar(&c.keyFile, "tls-key", "", "PEM client key, for mTLS (with -tls-cert)")
	fs.StringVar(&c.serverName, "tls-server-name", "", "name to verify the server's certificate against (default: the host of -addr)")
	c.token = getenv("FIBERGATE_TOKEN")
}

// usageError is a mistake in the command line or the input: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// dial connects to the server. It does not wait for the connection: the first call does.
func (c *connFlags) dial() (*grpc.ClientConn, cdv1.ContactDetailsServiceClient, error) {
	host, _, err := net.SplitHostPort(c.addr)
	if err != nil {
		return nil, nil, usagef("-addr %q: want host:port", c.addr)
	}
	tlsWanted := c.caFile != "" || c.certFile != "" || c.keyFile != "" || c.serverName != ""
	if c.plaintext && tlsWanted {
		return nil, nil, usagef("-plaintext and TLS flags exclude each other")
	}
	if (c.certFile == "") != (c.keyFile == "") {
		return nil, nil, usagef("-tls-cert and -tls-key go together")
	}
	plaintext := c.plaintext || (!tlsWanted && isLoopback(host))
	var creds credentials.TransportCredentials
	if plaintext {
		creds = insecure.NewCredentials()
	} else {
		cfg, err := c.tlsConfig()
		if err != nil {
			return nil, nil, err
		}
		creds = credentials.NewTLS(cfg)
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvMsgSize)),
		grpc.WithUserAgent("fibergate-cli"),
		// After a lost connection, try again within seconds, not the two minutes a
		// long-running service may wait: a person waits for the answer.
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: cliBackoff, MinConnectTimeout: 20 * time.Second}),
	}
	if c.token != "" {
		if plaintext && !isLoopback(host) {
			return nil, nil, usagef("refusing to send FIBERGATE_TOKEN in plaintext to %s: use TLS (-tls-ca) or a loopback address", host)
		}
		opts = append(opts, grpc.WithPerRPCCredentials(bearer{token: c.token, secure: !plaintext}))
	}
	conn, err := grpc.NewClient(c.addr, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", c.addr, err)
	}
	return conn, cdv1.NewContactDetailsServiceClient(conn), nil
}

func (c *connFlags) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.serverName}
	if c.caFile != "" {
		pem, err := os.ReadFile(c.caFile)
		if err != nil {
			return nil, usagef("-tls-ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usagef("-tls-ca %s: no PEM certificate in it", c.caFile)
		}
		cfg.RootCAs = pool
	}
	if c.certFile != "" {
		cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
		if err != nil {
			return nil, usagef("-tls-cert/-tls-key: %v", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// isLoopback reports whether host names this machine only.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// bearer sends the caller's token on every call.
type bearer struct {
	token  string
	secure bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

// RequireTransportSecurity is false only for plaintext to loopback, which dial allows alone.
func (b bearer) RequireTransportSecurity() bool { return b.secure }

// String keeps the token out of any %v of the credentials.
func (b bearer) String() string { return "bearer(redacted)" }
