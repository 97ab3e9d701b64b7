package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// parseWith parses args with env as the whole environment.
func parseWith(args []string, env map[string]string) (config, error) {
	return parseConfig(args, func(k string) string { return env[k] }, &strings.Builder{})
}

// settings is the part of config the defaults and fallbacks tests compare.
type settings struct {
	GRPCAddr, HTTPAddr, FiberURL             string
	FakeFiber                                bool
	StartRate, PollRate, CancelRate          string
	FiberTimeout, ShutdownTimeout, TTL       time.Duration
	MaxQueueWait, Retention                  time.Duration
	MaxWatchStreams                          int
	MaxBodyBytes                             int64
	Store, LogLevel, LogFormat, FiberKeyFile string
	HTTPReadTimeout                          time.Duration
	MaxHeaderBytes, MaxHTTPConns             int
	MaxStreamsPerConn                        int
	ReplicaID                                string
	LeaseTTL                                 time.Duration
}

func settingsOf(c config) settings {
	return settings{
		GRPCAddr: c.grpcAddr, HTTPAddr: c.httpAddr, FiberURL: c.fiberURL, FakeFiber: c.fakeFiber,
		StartRate: c.startRate, PollRate: c.pollRate, CancelRate: c.cancelRate,
		FiberTimeout: c.fiberTimeout, ShutdownTimeout: c.shutdownTimeout, TTL: c.idempotencyTTL,
		MaxQueueWait: c.maxQueueWait, Retention: c.retention, MaxWatchStreams: c.maxWatchStreams,
		MaxBodyBytes: c.maxBodyBytes, Store: c.store, LogLevel: c.logLevel, LogFormat: c.logFormat,
		FiberKeyFile: c.fiberKeyFile, HTTPReadTimeout: c.httpReadTimeout, MaxHeaderBytes: c.maxHeaderBytes,
		MaxHTTPConns: c.maxHTTPConns, MaxStreamsPerConn: c.maxStreamsPerConn,
		ReplicaID: c.replicaID, LeaseTTL: c.leaseTTL,
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := parseWith(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := settings{
		GRPCAddr: ":9090", HTTPAddr: ":8080", FiberURL: "https://api.fiber.ai", FakeFiber: false,
		StartRate: "30/1m", PollRate: "240/1m", CancelRate: "60/1m",
		FiberTimeout: 30 * time.Second, ShutdownTimeout: 10 * time.Second, TTL: 24 * time.Hour,
		MaxQueueWait: 2 * time.Minute, Retention: 30 * 24 * time.Hour, MaxWatchStreams: 100,
		MaxBodyBytes: 6 << 20, Store: "sqlite:fibergate.db", LogLevel: "info", LogFormat: "text",
		HTTPReadTimeout: 30 * time.Second, MaxHeaderBytes: 1 << 20, MaxHTTPConns: 512, MaxStreamsPerConn: 1000,
		ReplicaID: "", LeaseTTL: 15 * time.Second,
	}
	if diff := cmp.Diff(want, settingsOf(cfg)); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestConfigEnvironmentFallbacksForEveryFlag(t *testing.T) {
	env := map[string]string{
		"FIBERGATE_GRPC_ADDR":            "127.0.0.1:1",
		"FIBERGATE_HTTP_ADDR":            "127.0.0.1:2",
		"FIBER_BASE_URL":                 "http://fiber.test",
		"FIBERGATE_FAKE_FIBER":           "true",
		"FIBERGATE_SEED":                 "11",
		"FIBERGATE_START_RATE":           "5/1s",
		"FIBERGATE_POLL_RATE":            "7/2s",
		"FIBERGATE_CANCEL_RATE":          "3/1h",
		"FIBERGATE_FIBER_TIMEOUT":        "3s",
		"FIBERGATE_SHUTDOWN_TIMEOUT":     "4s",
		"FIBERGATE_IDEMPOTENCY_TTL":      "5m",
		"FIBERGATE_MAX_QUEUE_WAIT":       "6s",
		"FIBERGATE_RETENTION":            "0",
		"FIBERGATE_MAX_WATCH_STREAMS":    "7",
		"FIBERGATE_MAX_BODY_BYTES":       "2097152",
		"FIBERGATE_STORE":                "sqlite:/tmp/x.db",
		"FIBERGATE_LOG_LEVEL":            "debug",
		"FIBERGATE_LOG_FORMAT":           "json",
		"FIBER_API_KEY_FILE":             "/run/secrets/fiber",
		"FIBERGATE_HTTP_READ_TIMEOUT":    "7s",
		"FIBERGATE_MAX_HEADER_BYTES":     "65536",
		"FIBERGATE_MAX_HTTP_CONNS":       "64",
		"FIBERGATE_MAX_STREAMS_PER_CONN": "100",
		"FIBERGATE_REPLICA_ID":           "replica-7",
		"FIBERGATE_LEASE_TTL":            "9s",
	}
	cfg, err := parseWith(nil, env)
	if err != nil {
		t.Fatal(err)
	}
	want := settings{
		GRPCAddr: "127.0.0.1:1", HTTPAddr: "127.0.0.1:2", FiberURL: "http://fiber.test", FakeFiber: true,
		StartRate: "5/1s", PollRate: "7/2s", CancelRate: "3/1h",
		FiberTimeout: 3 * time.Second, ShutdownTimeout: 4 * time.Second, TTL: 5 * time.Minute,
		MaxQueueWait: 6 * time.Second, Retention: 0, MaxWatchStreams: 7,
		MaxBodyBytes: 2 << 20, Store: "sqlite:/tmp/x.db", LogLevel: "debug", LogFormat: "json",
		FiberKeyFile: "/run/secrets/fiber", HTTPReadTimeout: 7 * time.Second, MaxHeaderBytes: 64 << 10,
		MaxHTTPConns: 64, MaxStreamsPerConn: 100, ReplicaID: "replica-7", LeaseTTL: 9 * time.Second,
	}
	if diff := cmp.Diff(want, settingsOf(cfg)); diff != "" {
		t.Errorf("from the environment (-want +got):\n%s", diff)
	}
	if cfg.seed != 11 {
		t.Errorf("seed from the environment = %d, want 11", cfg.seed)
	}

	// Flags win over the environment.
	cfg, err = parseWith([]string{"-start-rate", "9/1m", "-poll-rate", "8/1m", "-cancel-rate", "2/1m", "-fiber-timeout", "1s"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.startRate != "9/1m" || cfg.pollRate != "8/1m" || cfg.cancelRate != "2/1m" || cfg.fiberTimeout != time.Second {
		t.Errorf("flags did not override the environment: %+v", settingsOf(cfg))
	}
}

func TestConfigRefusesInvalidValues(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string // in the error
	}{
		{"zero fiber timeout", []string{"-fiber-timeout", "0"}, nil, "-fiber-timeout must be positive"},
		{"negative fiber timeout", []string{"-fiber-timeout", "-1s"}, nil, "-fiber-timeout must be positive"},
		{"zero fiber timeout from env", nil, map[string]string{"FIBERGATE_FIBER_TIMEOUT": "0s"}, "-fiber-timeout must be positive"},
		{"zero shutdown timeout", []string{"-shutdown-timeout", "0"}, nil, "-shutdown-timeout must be positive"},
		{"zero idempotency ttl", []string{"-idempotency-ttl", "0"}, nil, "-idempotency-ttl must be positive"},
		{"negative idempotency ttl", []string{"-idempotency-ttl", "-1h"}, nil, "-idempotency-ttl must be positive"},
		{"zero max queue wait", []string{"-max-queue-wait", "0"}, nil, "-max-queue-wait must be positive"},
		{"negative retention", []string{"-retention", "-1h"}, nil, "-retention must not be negative"},
		{"zero watch streams", []string{"-max-watch-streams", "0"}, nil, "-max-watch-streams must be at least 1"},
		{"negative watch streams from env", nil, map[string]string{"FIBERGATE_MAX_WATCH_STREAMS": "-3"}, "-max-watch-streams must be at least 1"},
		{"small body limit", []string{"-max-body-bytes", "1000"}, nil, "-max-body-bytes must be at least 1 MiB"},
		{"zero read timeout", []string{"-http-read-timeout", "0"}, nil, "-http-read-timeout must be positive"},
		{"small header limit", []string{"-max-header-bytes", "1024"}, nil, "-max-header-bytes must be at least 8 KiB"},
		{"zero http conns", []string{"-max-http-conns", "0"}, nil, "-max-http-conns must be at least 1"},
		{"malformed http conns from env", nil, map[string]string{"FIBERGATE_MAX_HTTP_CONNS": "lots"}, "FIBERGATE_MAX_HTTP_CONNS"},
		{"zero streams per conn", []string{"-max-streams-per-conn", "0"}, nil, "-max-streams-per-conn must be between 1"},
		{"streams per conn over uint32", []string{"-max-streams-per-conn", "4294967296"}, nil, "-max-streams-per-conn must be between 1"},
		{"zero start rate", []string{"-start-rate", "0/1m"}, nil, "-start-rate"},
		{"poll rate without window", []string{"-poll-rate", "240"}, nil, "-poll-rate"},
		{"cancel rate with zero window", []string{"-cancel-rate", "60/0s"}, nil, "-cancel-rate"},
		{"malformed start rate from env", nil, map[string]string{"FIBERGATE_START_RATE": "fast"}, "-start-rate"},
		{"malformed duration", []string{"-fiber-timeout", "soon"}, nil, "invalid value"},
		{"malformed duration from env", nil, map[string]string{"FIBERGATE_FIBER_TIMEOUT": "soon"}, "FIBERGATE_FIBER_TIMEOUT"},
		{"malformed bool from env", nil, map[string]string{"FIBERGATE_FAKE_FIBER": "maybe"}, "FIBERGATE_FAKE_FIBER"},
		{"malformed seed", []string{"-seed", "0x"}, nil, "invalid value"},
		{"malformed seed from env", nil, map[string]string{"FIBERGATE_SEED": "lucky"}, "FIBERGATE_SEED"},
		{"malformed watch streams from env", nil, map[string]string{"FIBERGATE_MAX_WATCH_STREAMS": "many"}, "FIBERGATE_MAX_WATCH_STREAMS"},
		{"malformed body size from env", nil, map[string]string{"FIBERGATE_MAX_BODY_BYTES": "6MB"}, "FIBERGATE_MAX_BODY_BYTES"},
		{"tls key without cert", []string{"-tls-key", "k.pem"}, nil, "-tls-cert and -tls-key go together"},
		{"arguments", []string{"serve"}, nil, "unexpected arguments"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseWith(tt.args, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestConfigKeepsDocumentedZeroes(t *testing.T) {
	cfg, err := parseWith([]string{"-retention", "0"}, nil)
	if err != nil || cfg.retention != 0 {
		t.Errorf("-retention 0 (never purge): %v, %v", cfg.retention, err)
	}
}
