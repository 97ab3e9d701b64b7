// Command server runs fibergate: the gRPC ContactDetailsService and its REST gateway in front of
// Fiber AI's batch contact-details API.
//
//	go run ./cmd/server -fake-fiber     # a demo on the built-in Fiber simulator
//
// Flags fall back to environment variables; -h lists both.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/server"
	"github.com/fibergate/fibergate/internal/service"
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
	logger, err := newLogger(cfg.logLevel, cfg.logFormat, os.Stderr)
	if err != nil {
		return err
	}
	fiberURL, apiKey := cfg.fiberURL, cfg.fiberAPIKey
	if cfg.fakeFiber {
		sim, url, err := fiberfake.Start(fiberfake.Config{Logger: logger.With("component", "fiberfake")})
		if err != nil {
			return fmt.Errorf("start fiber simulator: %w", err)
		}
		defer sim.Close()
		fiberURL = url
		if apiKey == "" {
			apiKey = fiberfake.DemoAPIKey
		}
		logger.Info("using the built-in Fiber simulator", "fiber_url", url)
	}
	if apiKey == "" {
		logger.Warn("no Fiber API key configured (FIBER_API_KEY): StartBatch calls without api_key will fail with FAILED_PRECONDITION")
	}
	client, err := fiber.New(fiberURL, fiber.WithTimeout(cfg.fiberTimeout), fiber.WithUserAgent("fibergate"))
	if err != nil {
		return err
	}
	svc := service.New(service.Config{Fiber: client, DefaultAPIKey: apiKey, Logger: logger})
	srv, err := server.New(server.Config{
		GRPCAddr:        cfg.grpcAddr,
		HTTPAddr:        cfg.httpAddr,
		Service:         svc,
		Logger:          logger,
		MaxBodyBytes:    cfg.maxBodyBytes,
		ShutdownTimeout: cfg.shutdownTimeout,
	})
	if err != nil {
		return err
	}
	return srv.Run(ctx, nil)
}

func newLogger(level, format string, w *os.File) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format must be text or json, got %q", format)
}
