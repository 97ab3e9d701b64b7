// Command fiberfake serves the Fiber AI batch contact-details simulator
// (internal/fiberfake) on its own, for manual testing and for running the
// gateway against something that behaves like Fiber.
//
// Every flag has an environment fallback, used when the flag is not given:
// FIBERFAKE_ plus the flag name in upper case with dashes as underscores
// (FIBERFAKE_ADDR, FIBERFAKE_PEOPLE_PER_SECOND, ...). Besides the Fiber API at
// /v1/contact-details/batch/{start,poll,cancel} it serves the simulator's
// admin routes under /_sim/ (faults, stats, poll log, credits). It stops gracefully on
// SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts, err := parseOptions(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fiberfake:", err)
		os.Exit(2)
	}
	level := slog.LevelInfo
	if opts.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(ctx, opts, log, nil); err != nil {
		log.Error("fiberfake stopped", "err", err)
		os.Exit(1)
	}
}

// options is the parsed command line.
type options struct {
	addr    string
	verbose bool
	cfg     fiberfake.Config
}

// parseOptions reads flags from args, falling back to the environment (read
// through getenv) for flags not given. Usage goes to usage.
func parseOptions(args []string, getenv func(string) string, usage io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("fiberfake", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8081", "address to listen on")
	fs.BoolVar(&o.verbose, "verbose", false, "log every call")
	fs.Int64Var(&o.cfg.Seed, "seed", 0, "seed of the people's contact details, rejections and failures (task ids are new on every start)")
	pps := fs.Float64("people-per-second", fiberfake.DefaultPeoplePerSecond, "people each task completes per second (inf: at once)")
	noData := fs.Float64("no-data-rate", fiberfake.DefaultNoDataRate, "share of people with no data")
	fs.Float64Var(&o.cfg.RejectRate, "reject-rate", 0, "share of people rejected before queueing")
	fs.Float64Var(&o.cfg.FailRate, "fail-rate", 0, "share of people whose fetch fails")
	fs.BoolVar(&o.cfg.FailedUnpaged, "failed-unpaged", false, "count failed people in numFailed but leave them out of pageResults")
	low := fs.Float64("low-credit-threshold", fiberfake.DefaultLowCreditThreshold, "balance under which answers carry a lowCreditAlert (0: never)")
	fs.Func("start-rate", "start rate limit per key, N/duration (default 30/1m)", rateSetter(&o.cfg.Limits.Start))
	fs.Func("poll-rate", "poll rate limit per key, N/duration (default 240/1m)", rateSetter(&o.cfg.Limits.Poll))
	fs.Func("cancel-rate", "cancel rate limit per key, N/duration (default 60/1m)", rateSetter(&o.cfg.Limits.Cancel))
	fs.BoolVar(&o.cfg.Limits.RetryAfter, "retry-after", false, "send Retry-After on rate-limit answers")
	fs.Func("cursor-mode", "nextCursor when caught up: null or repeat (default null)", func(s string) error {
		m, err := fiberfake.ParseCursorMode(s)
		o.cfg.CursorMode = m
		return err
	})
	fs.Func("keys", "API keys and their credits, like key1=100000,key2=5 (default "+fiberfake.DemoAPIKey+"=100000)", func(s string) error {
		keys, err := parseKeys(s)
		o.cfg.Keys = keys
		return err
	})
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if err := applyEnv(fs, getenv); err != nil {
		return options{}, err
	}

	if *pps <= 0 {
		return options{}, fmt.Errorf("-people-per-second must be positive")
	}
	o.cfg.PeoplePerSecond = *pps
	o.cfg.NoDataRate = zeroMeansNone(*noData)
	o.cfg.LowCreditThreshold = zeroMeansNone(*low)
	return o, nil
}

// applyEnv sets every flag not given on the command line from its
// FIBERFAKE_ environment variable, when that is not empty.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := "FIBERFAKE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" && !given[f.Name] && err == nil {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s: %w", name, serr)
			}
		}
	})
	return err
}

// rateSetter parses a flag value into *dst.
func rateSetter(dst *fiberfake.Rate) func(string) error {
	return func(s string) error {
		r, err := fiberfake.ParseRate(s)
		*dst = r
		return err
	}
}

// parseKeys reads "key1=100000,key2=5".
func parseKeys(s string) (map[string]float64, error) {
	keys := map[string]float64{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		credits, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if !ok || strings.TrimSpace(k) == "" || err != nil {
			return nil, fmt.Errorf("want key=credits, got %q", part)
		}
		keys[strings.TrimSpace(k)] = credits
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no keys in %q", s)
	}
	return keys, nil
}

// zeroMeansNone maps a flag's 0 to the Config's "none" (negative), since a
// zero Config field means the default.
func zeroMeansNone(v float64) float64 {
	if v == 0 {
		return -1
	}
	return v
}

// run serves the simulator until ctx ends, then shuts down gracefully. When
// ready is not nil it receives the listening address.
func run(ctx context.Context, o options, log *slog.Logger, ready chan<- string) error {
	o.cfg.Logger = log
	sim := fiberfake.New(o.cfg)
	defer sim.Close()
	mux := http.NewServeMux()
	mux.Handle("/_sim/", sim.AdminHandler())
	mux.Handle("/", sim.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	l, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	numKeys := len(o.cfg.Keys)
	if o.cfg.Keys == nil {
		numKeys = 1 // the demo key
	}
	log.Info("fiberfake listening", "addr", l.Addr().String(), "seed", o.cfg.Seed,
		"cursorMode", o.cfg.CursorMode.String(), "keys", numKeys)
	if ready != nil {
		ready <- l.Addr().String()
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("fiberfake shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = sim.Close() // end injected delays so that Shutdown need not wait for them
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	<-served
	return nil
}
