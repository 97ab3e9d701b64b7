package server_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/health"
	"github.com/fibergate/fibergate/internal/server"
	"github.com/fibergate/fibergate/internal/service"
	"github.com/fibergate/fibergate/internal/storage/sqlite"
	"github.com/fibergate/fibergate/internal/tasks"
)

// stackConfig is what an in-process fibergate needs from a benchmark.
type stackConfig struct {
	starter  service.Starter
	upstream tasks.Upstream
	apiKey   string
	policy   tasks.Policy
	// maxWatchStreams caps the open WatchTask streams of one caller, as -max-watch-streams
	// does; zero means service.DefaultMaxWatchStreams. Every stream of a benchmark comes from
	// the same caller, so one that opens more streams than the default must raise it.
	maxWatchStreams int
	// wrap, if not nil, wraps the SQLite store the engine uses.
	wrap func(tasks.Store) tasks.Store
	// wrapRequests, if not nil, wraps the SQLite store of the service's idempotency records.
	wrapRequests func(service.RequestStore) service.RequestStore
	// health, if not nil, is run with the stack and given to the engine, the service and the
	// server (readiness), as cmd/server does.
	health *health.Monitor
	// logger, if not nil, receives the stack's logs; nil discards them.
	logger *slog.Logger
}

// stack is fibergate wired as cmd/server wires it (SQLite store, task engine, service, gRPC
// server and REST gateway, and the store's health monitor if given), running in this process
// on loopback ports.
type stack struct {
	grpcAddr, httpAddr string
	// store is the SQLite store, unwrapped: the idempotency and reconcile records' too.
	store *sqlite.Store
}

// startStack runs a stack until tb ends.
func startStack(tb testing.TB, cfg stackConfig) *stack {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	store, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "fibergate.db"))
	if err != nil {
		tb.Fatal(err)
	}
	var st tasks.Store = store
	if cfg.wrap != nil {
		st = cfg.wrap(store)
	}
	logger := cfg.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var requests service.RequestStore = store
	if cfg.wrapRequests != nil {
		requests = cfg.wrapRequests(store)
	}
	// A nil *health.Monitor must reach the configs as a nil interface.
	var (
		storeHealth tasks.StoreHealth
		svcHealth   service.StoreHealth
		readiness   server.Readiness
	)
	if cfg.health != nil {
		storeHealth, svcHealth, readiness = cfg.health, cfg.health, cfg.health
	}
	engine := tasks.New(tasks.Config{Store: st, Fiber: cfg.upstream, DefaultAPIKey: cfg.apiKey, Policy: cfg.policy, Logger: logger, Health: storeHealth})
	svc := service.New(service.Config{
		Fiber: cfg.starter, Tasks: engine, Requests: requests, Reconcile: store, Health: svcHealth,
		DefaultAPIKey: cfg.apiKey, MaxWatchStreams: cfg.maxWatchStreams, Logger: logger,
	})
	srv, err := server.New(server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Service: svc, Readiness: readiness, Logger: logger, ShutdownTimeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	ready := make(chan [2]string, 1)
	engineDone, serverDone, healthDone := make(chan error, 1), make(chan error, 1), make(chan error, 1)
	go func() { engineDone <- engine.Run(ctx) }()
	go func() {
		serverDone <- srv.Run(ctx, func(g, h net.Addr) { ready <- [2]string{g.String(), h.String()} })
	}()
	if cfg.health != nil {
		go func() { healthDone <- cfg.health.Run(ctx) }()
	} else {
		healthDone <- nil
	}
	tb.Cleanup(func() {
		cancel()
		for _, done := range []chan error{serverDone, engineDone, healthDone} {
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, context.Canceled) {
					tb.Errorf("stack stopped with %v", err)
				}
			case <-time.After(30 * time.Second):
				tb.Error("stack did not stop within 30s")
			}
		}
		if err := store.Close(); err != nil {
			tb.Error(err)
		}
	})
	select {
	case addrs := <-ready:
		return &stack{grpcAddr: addrs[0], httpAddr: addrs[1], store: store}
	case err := <-serverDone:
		tb.Fatalf("server stopped before listening: %v", err)
	case <-time.After(30 * time.Second):
		tb.Fatal("server did not listen within 30s")
	}
	return nil
}

// dial returns n separate client connections (each its own HTTP/2 connection) to the stack,
// closed when tb ends.
func (s *stack) dial(tb testing.TB, n int) []cdv1.ContactDetailsServiceClient {
	tb.Helper()
	out := make([]cdv1.ContactDetailsServiceClient, n)
	for i := range out {
		conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { conn.Close() })
		out[i] = cdv1.NewContactDetailsServiceClient(conn)
	}
	return out
}

// benchContext returns a context that ends with tb, and after d at the latest.
func benchContext(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}
