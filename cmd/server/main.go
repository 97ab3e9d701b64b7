// Command server runs fibergate: the gRPC ContactDetailsService and its REST gateway in front of
// Fiber AI's batch contact-details API.
//
//	go run ./cmd/server -fake-fiber     # a demo on the built-in Fiber simulator
//
// Flags fall back to environment variables; -h lists both.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/fibergate/fibergate/internal/auth"
	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/health"
	"github.com/fibergate/fibergate/internal/metrics"
	"github.com/fibergate/fibergate/internal/redact"
	"github.com/fibergate/fibergate/internal/server"
	"github.com/fibergate/fibergate/internal/service"
	"github.com/fibergate/fibergate/internal/tasks"
)

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fibergate:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "fibergate:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) error {
	fiberURL, apiKey := cfg.fiberURL, cfg.fiberAPIKey
	if cfg.fiberKeyFile != "" {
		var err error
		if apiKey, err = readAPIKeyFile(cfg.fiberKeyFile); err != nil {
			return err
		}
	}
	// Every log line passes the redactor, which knows the server's key from the start and
	// learns request-supplied keys as they arrive.
	secrets := redact.NewSecrets(apiKey)
	logger, err := newLogger(cfg.logLevel, cfg.logFormat, os.Stderr, secrets)
	if err != nil {
		return err
	}
	replica := cfg.replicaID
	if replica == "" {
		replica = defaultReplicaID(os.Hostname)
	}
	logger = logger.With("replica", replica) // every line says which replica wrote it
	if cfg.fiberKeyFile != "" && cfg.fiberAPIKey != "" {
		logger.Warn("FIBER_API_KEY and -fiber-api-key-file are both set: using the file's key")
	}
	limits, err := parseLimits(cfg)
	if err != nil {
		return err
	}
	if cfg.fakeFiber {
		// The simulator enforces the same (possibly scaled) limits as the budget.
		rate := func(l budget.Limit) fiberfake.Rate { return fiberfake.Rate{N: l.N, Per: l.Per} }
		var keys map[string]float64 // nil: the demo key alone
		if apiKey != "" {
			// The configured key is the one sent: the simulator knows it, as well as the demo key.
			keys = map[string]float64{fiberfake.DemoAPIKey: fiberfake.DefaultDemoCredits, apiKey: fiberfake.DefaultDemoCredits}
		}
		sim, url, err := fiberfake.Start(fiberfake.Config{
			Seed:   cfg.seed,
			Keys:   keys,
			Logger: logger.With("component", "fiberfake"),
			Limits: fiberfake.Limits{Start: rate(limits.Start), Poll: rate(limits.Poll), Cancel: rate(limits.Cancel)},
		})
		if err != nil {
			return fmt.Errorf("start fiber simulator: %w", err)
		}
		defer sim.Close()
		fiberURL = url
		if apiKey == "" {
			apiKey = fiberfake.DemoAPIKey
			secrets.Add(apiKey)
			logger.Info("using the built-in Fiber simulator with its demo key", "fiber_url", url)
		} else {
			logger.Info("using the built-in Fiber simulator with the configured Fiber key", "fiber_url", url, "credits", fiberfake.DefaultDemoCredits)
		}
	}
	var tokens *auth.Tokens
	switch {
	case cfg.tokensFile != "":
		if tokens, err = auth.LoadTokens(cfg.tokensFile); err != nil {
			return err
		}
		logger.Info("caller authentication on", "principals", tokens.Len())
	case cfg.fakeFiber || cfg.insecureNoAuth:
		logger.Warn("caller authentication is off: anyone who reaches the ports can use the Fiber key")
	default:
		return errors.New("refusing to serve real Fiber without caller authentication: give -tokens-file, or -insecure-no-auth to accept the risk")
	}
	tlsConfig, err := loadTLS(cfg.tlsCert, cfg.tlsKey, cfg.tlsClientCA)
	if err != nil {
		return err
	}
	if apiKey == "" {
		logger.Warn("no Fiber API key configured (FIBER_API_KEY): StartBatch calls without api_key will fail with FAILED_PRECONDITION")
	}
	client, err := fiber.New(fiberURL, fiber.WithTimeout(cfg.fiberTimeout), fiber.WithUserAgent("fibergate"))
	if err != nil {
		return err
	}
	store, leases, err := openStore(ctx, cfg.store)
	if err != nil {
		return err
	}
	defer store.Close()
	opened := []any{"store", redactStore(cfg.store)}
	if leases != nil { // shared with any other replica: one at a time polls a task
		opened = append(opened, "lease_ttl", cfg.leaseTTL)
	}
	logger.Info("store open", opened...)
	// On PostgreSQL the budget is the cluster's: every replica books its slots there. A SQLite
	// store is one process's, and so is its budget.
	ledger, _ := store.(budget.Ledger)
	mets := metrics.New()
	limiter, err := budget.New(budget.Config{
		Limits: limits, MaxWait: cfg.maxQueueWait, SendReserve: sendReserve, Logger: logger.With("component", "budget"),
		Ledger: ledger, MaxInFlight: 2 * cfg.fiberTimeout, OnGrant: mets.ObserveBudgetGrant,
	})
	if err != nil {
		return err
	}
	logger.Info("fiber budget", "start", limits.Start.String(), "poll", limits.Poll.String(), "cancel", limits.Cancel.String(),
		"shared_in_store", ledger != nil)
	// Starts of unknown outcome are recorded for the operator by the service, which knows
	// the caller and the request (see cmd/reconcile).
	mets.RegisterBudget(limiter)
	mets.RegisterReplica(replica)
	upstream := fiber.NewRetrier(client, fiber.RetryConfig{Limiter: limiter, OnAttempt: mets.ObserveFiberAttempt})
	// Nothing is sent to Fiber that could not be recorded: while the store cannot be reached,
	// the service is not ready, starts are refused, polls wait and watches end.
	storeHealth := health.New(health.Config{Store: store, Logger: logger.With("component", "health")})
	// On PostgreSQL the replicas take turns at the purges; on SQLite this process runs them.
	turns := purgeTurns(store)
	// On PostgreSQL the replicas hint each other by LISTEN/NOTIFY (tasks.Signals).
	signals, _ := store.(tasks.Signals)
	engine := tasks.New(tasks.Config{
		Store: store, Health: storeHealth, Fiber: upstream, DefaultAPIKey: apiKey, Retention: cfg.retention, Logger: logger,
		Leases: leases, Replica: replica, LeaseTTL: cfg.leaseTTL, PurgeTurns: turns, Signals: signals,
	})
	svc := service.New(service.Config{
		Fiber: upstream, Tasks: engine, Requests: store, Reconcile: store, Health: storeHealth, IdempotencyTTL: cfg.idempotencyTTL,
		Replica: replica, LeaseTTL: cfg.leaseTTL, PurgeTurns: turns,
		DefaultAPIKey: apiKey, AllowRequestAPIKey: cfg.allowReqKey, Logger: logger,
		MaxWatchStreams: cfg.maxWatchStreams, Secrets: secrets,
	})
	srv, err := server.New(server.Config{
		GRPCAddr:          cfg.grpcAddr,
		HTTPAddr:          cfg.httpAddr,
		Service:           svc,
		Readiness:         storeHealth,
		Logger:            logger,
		MaxBodyBytes:      cfg.maxBodyBytes,
		ShutdownTimeout:   cfg.shutdownTimeout,
		ReadTimeout:       cfg.httpReadTimeout,
		MaxHeaderBytes:    cfg.maxHeaderBytes,
		MaxHTTPConns:      cfg.maxHTTPConns,
		MaxStreamsPerConn: uint32(cfg.maxStreamsPerConn),
		Tokens:            tokens,
		Secrets:           secrets,
		OpenReflection:    cfg.openReflection,
		TLS:               tlsConfig,
		Unary:             []grpc.UnaryServerInterceptor{mets.GRPC.UnaryServerInterceptor()},
		Stream:            []grpc.StreamServerInterceptor{mets.GRPC.StreamServerInterceptor()},
	})
	if err != nil {
		return err
	}
	mets.GRPC.InitializeMetrics(srv)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return storeHealth.Run(gctx) })
	g.Go(func() error { return engine.Run(gctx) })
	g.Go(func() error { return svc.Run(gctx) })
	g.Go(func() error { return reportBudget(gctx, limiter, logger, time.Minute) })
	g.Go(func() error { return srv.Run(gctx, nil) })
	if cfg.metricsAddr != "" {
		g.Go(func() error { return serveMetrics(gctx, cfg.metricsAddr, mets.Handler(), logger) })
	}
	err = g.Wait()
	// The last Done reports reach the other replicas before the store closes, rather than
	// hold slots until MaxInFlight.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if ferr := limiter.Flush(fctx); ferr != nil {
		logger.Warn("fiber budget: reports not flushed to the store", "error", ferr)
	}
	return err
}

// serveMetrics serves handler at /metrics on addr until ctx ends.
func serveMetrics(ctx context.Context, addr string, handler http.Handler, log *slog.Logger) error {
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", handler)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("metrics listening", "metrics_addr", lis.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve metrics: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("stop metrics: %w", err)
	}
	<-errc // http.ErrServerClosed
	return nil
}

// sendReserve is the time a call queued for a rate-limit slot keeps before its deadline to be
// sent and answered: a start cut off by its deadline after it was sent has an unknown outcome
// (and may be charged), one refused before sending costs nothing.
const sendReserve = time.Second

// readAPIKeyFile reads the Fiber key from path: its content without surrounding white space.
// A file with nothing else is an error, not "no key".
func readAPIKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("-fiber-api-key-file: %w", err)
	}
	key := strings.TrimSpace(string(b))
	if key == "" {
		return "", fmt.Errorf("-fiber-api-key-file %s: the file is empty (or only white space): put the Fiber API key in it, or leave the flag out", path)
	}
	return key, nil
}

// parseLimits reads the three rate flags.
func parseLimits(cfg config) (budget.Limits, error) {
	var ls budget.Limits
	for _, f := range []struct {
		flag, v string
		dst     *budget.Limit
	}{{"-start-rate", cfg.startRate, &ls.Start}, {"-poll-rate", cfg.pollRate, &ls.Poll}, {"-cancel-rate", cfg.cancelRate, &ls.Cancel}} {
		l, err := budget.ParseLimit(f.v)
		if err != nil {
			return ls, fmt.Errorf("%s: %w", f.flag, err)
		}
		*f.dst = l
	}
	return ls, nil
}

// loadTLS builds the listeners' TLS config; nil without a certificate.
func loadTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	if certFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
	if clientCAFile != "" {
		pem, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("-tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("-tls-client-ca: no certificate found")
		}
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c, nil
}

func newLogger(level, format string, w *os.File, secrets *redact.Secrets) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(redact.NewHandler(slog.NewTextHandler(w, opts), secrets)), nil
	case "json":
		return slog.New(redact.NewHandler(slog.NewJSONHandler(w, opts), secrets)), nil
	}
	return nil, fmt.Errorf("-log-format must be text or json, got %q", format)
}
