package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/gateway"
	"github.com/fibergate/fibergate/internal/server"
	"github.com/fibergate/fibergate/internal/tasks"
)

// config is everything main reads from flags and the environment.
type config struct {
	grpcAddr        string
	httpAddr        string
	metricsAddr     string
	fiberURL        string
	fiberAPIKey     string // from FIBER_API_KEY only: never a flag, so it stays out of ps output
	fakeFiber       bool
	seed            int64 // of the simulator's people data, with fakeFiber
	fiberTimeout    time.Duration
	maxBodyBytes    int64
	shutdownTimeout time.Duration
	// Transport limits (see server.Config).
	httpReadTimeout   time.Duration
	maxHeaderBytes    int
	maxHTTPConns      int
	maxStreamsPerConn int
	tokensFile        string
	insecureNoAuth    bool
	openReflection    bool
	tlsCert           string
	tlsKey            string
	tlsClientCA       string
	fiberKeyFile      string
	allowReqKey       bool
	idempotencyTTL    time.Duration
	maxWatchStreams   int
	startRate         string
	pollRate          string
	cancelRate        string
	maxQueueWait      time.Duration
	store             string
	replicaID         string        // "" until main picks the default
	leaseTTL          time.Duration // of task leases, with a store that replicas share, and of the idempotent starts a replica sends
	retention         time.Duration
	logLevel          string
	logFormat         string
}

// parseConfig reads flags, falling back to the environment (getenv) for each flag not given.
// Every flag's usage names its environment variable so -h lists them all.
func parseConfig(args []string, getenv func(string) string, usageOut io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("fibergate", flag.ContinueOnError)
	fs.SetOutput(usageOut)
	var errs []error
	usage := func(u, env string) string { return fmt.Sprintf("%s (env %s)", u, env) }
	str := func(p *string, name, env, def, u string) {
		fs.StringVar(p, name, fromEnv(getenv, env, def, func(v string) (string, error) { return v, nil }, &errs), usage(u, env))
	}
	boolean := func(p *bool, name, env string, def bool, u string) {
		fs.BoolVar(p, name, fromEnv(getenv, env, def, strconv.ParseBool, &errs), usage(u, env))
	}
	duration := func(p *time.Duration, name, env string, def time.Duration, u string) {
		fs.DurationVar(p, name, fromEnv(getenv, env, def, time.ParseDuration, &errs), usage(u, env))
	}
	integer := func(p *int, name, env string, def int, u string) {
		fs.IntVar(p, name, fromEnv(getenv, env, def, strconv.Atoi, &errs), usage(u, env))
	}
	integer64 := func(p *int64, name, env string, def int64, u string) {
		parse := func(v string) (int64, error) { return strconv.ParseInt(v, 10, 64) }
		fs.Int64Var(p, name, fromEnv(getenv, env, def, parse, &errs), usage(u, env))
	}
	str(&c.grpcAddr, "grpc-addr", "FIBERGATE_GRPC_ADDR", ":9090", "gRPC listen address")
	str(&c.httpAddr, "http-addr", "FIBERGATE_HTTP_ADDR", ":8080", "REST gateway listen address")
	str(&c.metricsAddr, "metrics-addr", "FIBERGATE_METRICS_ADDR", "", "Prometheus /metrics listen address, plain HTTP without auth: keep it private (empty: off)")
	str(&c.fiberURL, "fiber-url", "FIBER_BASE_URL", "https://api.fiber.ai", "Fiber API base URL")
	boolean(&c.fakeFiber, "fake-fiber", "FIBERGATE_FAKE_FIBER", false, "run the built-in Fiber simulator in-process and use it instead of -fiber-url")
	seed := int64(0)
	if v := getenv("FIBERGATE_SEED"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("FIBERGATE_SEED: %w", err))
		}
		seed = n
	}
	fs.Int64Var(&c.seed, "seed", seed, "with -fake-fiber: seed of the simulator's made-up contact details (who is found, with what); task ids are new on every start whatever the seed (env FIBERGATE_SEED)")
	duration(&c.fiberTimeout, "fiber-timeout", "FIBERGATE_FIBER_TIMEOUT", 30*time.Second, "timeout of each call to Fiber")
	duration(&c.shutdownTimeout, "shutdown-timeout", "FIBERGATE_SHUTDOWN_TIMEOUT", 10*time.Second, "how long a graceful stop waits for in-flight calls")
	str(&c.tokensFile, "tokens-file", "FIBERGATE_TOKENS_FILE", "", "callers' bearer tokens: lines of \"PRINCIPAL sha256:HEX\" (make a hash with: printf %s \"$TOKEN\" | sha256sum)")
	boolean(&c.insecureNoAuth, "insecure-no-auth", "FIBERGATE_INSECURE_NO_AUTH", false, "serve real Fiber without caller authentication (refused otherwise when no -tokens-file is given)")
	boolean(&c.openReflection, "open-reflection", "FIBERGATE_OPEN_REFLECTION", false, "allow gRPC reflection without a token (health is always open)")
	str(&c.tlsCert, "tls-cert", "FIBERGATE_TLS_CERT", "", "TLS certificate (PEM) for both listeners")
	str(&c.tlsKey, "tls-key", "FIBERGATE_TLS_KEY", "", "TLS private key (PEM) for both listeners")
	str(&c.tlsClientCA, "tls-client-ca", "FIBERGATE_TLS_CLIENT_CA", "", "CA bundle (PEM): clients must present a certificate it signed (mutual TLS)")
	str(&c.fiberKeyFile, "fiber-api-key-file", "FIBER_API_KEY_FILE", "", "file holding the Fiber API key (instead of FIBER_API_KEY)")
	boolean(&c.allowReqKey, "allow-request-api-key", "FIBERGATE_ALLOW_REQUEST_API_KEY", false, "accept a Fiber api_key in requests (otherwise refused with PERMISSION_DENIED)")
	duration(&c.idempotencyTTL, "idempotency-ttl", "FIBERGATE_IDEMPOTENCY_TTL", 24*time.Hour, "how long a StartBatch request_id / Idempotency-Key is remembered")
	integer(&c.maxWatchStreams, "max-watch-streams", "FIBERGATE_MAX_WATCH_STREAMS", 100, "open WatchTask streams allowed per caller")
	str(&c.startRate, "start-rate", "FIBERGATE_START_RATE", "30/1m", "Fiber start calls allowed per API key, N/duration")
	str(&c.pollRate, "poll-rate", "FIBERGATE_POLL_RATE", "240/1m", "Fiber poll calls allowed per API key, N/duration")
	str(&c.cancelRate, "cancel-rate", "FIBERGATE_CANCEL_RATE", "60/1m", "Fiber cancel calls allowed per API key, N/duration")
	duration(&c.maxQueueWait, "max-queue-wait", "FIBERGATE_MAX_QUEUE_WAIT", 2*time.Minute, "longest a caller's call waits for a rate-limit slot (its gRPC deadline may be shorter); longer waits fail at once with RESOURCE_EXHAUSTED. Task pollers wait their turn without this bound")
	str(&c.store, "store", "FIBERGATE_STORE", "sqlite:fibergate.db", "where tasks and results are kept: sqlite:PATH (a local file, created 0600, for one process), or postgres://USER@HOST:PORT/DB?sslmode=... (PostgreSQL, shared by any number of replicas; give the password in PGPASSWORD or ~/.pgpass rather than in the URL, which ps shows)")
	str(&c.replicaID, "replica-id", "FIBERGATE_REPLICA_ID", "", "this replica's name in logs, metrics and task leases, unique among the replicas sharing a store: letters, digits and . _ : - (default: the host name and a random suffix)")
	duration(&c.leaseTTL, "lease-ttl", "FIBERGATE_LEASE_TTL", tasks.DefaultLeaseTTL, "with a PostgreSQL store: how long a replica's lease of a task lasts unless renewed (every third of it); a dead replica's tasks are taken over within it and a claim interval (a third of it, at most 2s); also how long after its last renewal a replica that died sending an idempotent start is taken for dead, its duplicates then answering that the outcome is unknown")
	duration(&c.retention, "retention", "FIBERGATE_RETENTION", 30*24*time.Hour, "finished tasks and their results are deleted this long after they end (0: never)")
	str(&c.logLevel, "log-level", "FIBERGATE_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	str(&c.logFormat, "log-format", "FIBERGATE_LOG_FORMAT", "text", "log format: text or json")
	integer64(&c.maxBodyBytes, "max-body-bytes", "FIBERGATE_MAX_BODY_BYTES", gateway.DefaultMaxBodyBytes, "largest REST body or gRPC message accepted; the default fits a StartBatch of 2000 URLs of 2048 bytes")
	duration(&c.httpReadTimeout, "http-read-timeout", "FIBERGATE_HTTP_READ_TIMEOUT", server.DefaultReadTimeout, "longest a REST request, headers (at most 10s of it) and body, may take to arrive; a slower body is answered 408 and its connection closed (responses, such as a watch stream, are not bounded)")
	integer(&c.maxHeaderBytes, "max-header-bytes", "FIBERGATE_MAX_HEADER_BYTES", server.DefaultMaxHeaderBytes, "largest request header block on either port: REST headers (431 above it) and gRPC metadata (the call is reset: INTERNAL)")
	integer(&c.maxHTTPConns, "max-http-conns", "FIBERGATE_MAX_HTTP_CONNS", server.DefaultMaxHTTPConns, "REST connections served at once; more wait in the listen queue. Keep it well under the file limit (ulimit -n) so the gRPC port keeps descriptors of its own")
	integer(&c.maxStreamsPerConn, "max-streams-per-conn", "FIBERGATE_MAX_STREAMS_PER_CONN", server.DefaultMaxStreamsPerConn, "concurrent gRPC calls and streams on one connection; a client's further calls wait for a free one")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: fibergate [flags]\n\nfibergate serves Fiber AI's batch contact-details API over gRPC and REST.\nThe Fiber API key is read from the environment variable FIBER_API_KEY, or from -fiber-api-key-file.\nWith -fake-fiber, the simulator accepts that key (or, without one, its demo key).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("bad environment: %v", errs)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if err := c.check(); err != nil {
		return c, err
	}
	c.fiberAPIKey = getenv("FIBER_API_KEY")
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return c, fmt.Errorf("-tls-cert and -tls-key go together")
	}
	if c.tlsClientCA != "" && c.tlsCert == "" {
		return c, fmt.Errorf("-tls-client-ca needs -tls-cert and -tls-key")
	}
	return c, nil
}

// fromEnv returns env's value parsed, or def when env is unset or empty. A value that does not
// parse is added to errs.
func fromEnv[T any](getenv func(string) string, env string, def T, parse func(string) (T, error), errs *[]error) T {
	v := getenv(env)
	if v == "" {
		return def
	}
	x, err := parse(v)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s: %w", env, err))
	}
	return x
}

// check refuses values that parse but make no sense: a zero or negative duration where zero
// would silently mean "no bound" or "the default", a size or count below one, a malformed rate.
// -retention 0 keeps its documented meaning (never purge).
func (c config) check() error {
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{
		{"-fiber-timeout", c.fiberTimeout},
		{"-shutdown-timeout", c.shutdownTimeout},
		{"-idempotency-ttl", c.idempotencyTTL},
		{"-max-queue-wait", c.maxQueueWait},
		{"-http-read-timeout", c.httpReadTimeout},
	} {
		if d.v <= 0 {
			return fmt.Errorf("%s must be positive, got %v", d.flag, d.v)
		}
	}
	if c.leaseTTL < time.Second {
		return fmt.Errorf("-lease-ttl must be at least 1s, got %v", c.leaseTTL)
	}
	if c.replicaID != "" && !validReplicaID(c.replicaID) {
		return fmt.Errorf("-replica-id %q: want 1 to %d letters, digits and . _ : -", c.replicaID, maxReplicaIDLen)
	}
	if c.retention < 0 {
		return fmt.Errorf("-retention must not be negative (0: never purge), got %v", c.retention)
	}
	if c.maxWatchStreams < 1 {
		return fmt.Errorf("-max-watch-streams must be at least 1, got %d", c.maxWatchStreams)
	}
	if c.maxBodyBytes < 1<<20 {
		return fmt.Errorf("-max-body-bytes must be at least 1 MiB, got %d", c.maxBodyBytes)
	}
	if c.maxHeaderBytes < 8<<10 {
		return fmt.Errorf("-max-header-bytes must be at least 8 KiB, got %d", c.maxHeaderBytes)
	}
	if c.maxHTTPConns < 1 {
		return fmt.Errorf("-max-http-conns must be at least 1, got %d", c.maxHTTPConns)
	}
	if c.maxStreamsPerConn < 1 || c.maxStreamsPerConn > math.MaxUint32 {
		return fmt.Errorf("-max-streams-per-conn must be between 1 and %d, got %d", uint32(math.MaxUint32), c.maxStreamsPerConn)
	}
	if _, _, err := parseStore(c.store); err != nil {
		return err
	}
	for _, r := range []struct{ flag, v string }{{"-start-rate", c.startRate}, {"-poll-rate", c.pollRate}, {"-cancel-rate", c.cancelRate}} {
		if _, err := budget.ParseLimit(r.v); err != nil {
			return fmt.Errorf("%s: %w", r.flag, err)
		}
	}
	return nil
}
