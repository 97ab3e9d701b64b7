package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/fibergate/fibergate/internal/health"
	"github.com/fibergate/fibergate/internal/service"
	"github.com/fibergate/fibergate/internal/storage/postgres"
	"github.com/fibergate/fibergate/internal/storage/sqlite"
	"github.com/fibergate/fibergate/internal/tasks"
)

// store is what the server needs of a storage backend: the part each consumer uses (the
// health monitor's Ping among them), and Close. Every backend that implements storagetest.Backend (and passes its suite) has it.
type store interface {
	tasks.Store
	service.RequestStore
	service.ReconcileStore
	health.Pinger
	io.Closer
}

var (
	_ store = (*sqlite.Store)(nil)
	_ store = (*postgres.Store)(nil)

	_ service.PurgeTurns = (*postgres.Store)(nil)
	_ tasks.PurgeTurns   = (*postgres.Store)(nil)
)

// purgeTurns returns what lets the replicas sharing st take turns at the periodic purges:
// the store itself when several processes share it (PostgreSQL), nil when it serves this
// process alone (SQLite), which then runs every purge itself.
func purgeTurns(st store) service.PurgeTurns {
	if t, ok := st.(service.PurgeTurns); ok {
		return t
	}
	return nil
}

// Backends a -store value names.
const (
	backendSQLite   = "sqlite"
	backendPostgres = "postgres"
)

// parseStore tells which backend the -store value spec names, and where: for SQLite the
// file's path, for PostgreSQL the DSN, spec itself. Its errors show spec with any password
// masked.
func parseStore(spec string) (backend, where string, err error) {
	lower := strings.ToLower(spec)
	if strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://") {
		return backendPostgres, spec, nil
	}
	if path, ok := strings.CutPrefix(spec, "sqlite:"); ok {
		if path == "" {
			return "", "", fmt.Errorf("-store %q: sqlite needs a file path", spec)
		}
		return backendSQLite, path, nil
	}
	return "", "", fmt.Errorf("-store %q: unknown backend (want sqlite:PATH, or postgres://USER@HOST:PORT/DB)", redactStore(spec))
}

// redactStore is what logs and errors may show of a -store value: the value with any
// password masked.
func redactStore(spec string) string { return postgres.Redact(spec) }

var (
	_ tasks.Leases  = (*postgres.Store)(nil)
	_ tasks.Signals = (*postgres.Store)(nil)
)

// openStore opens the store named by spec (see parseStore). A SQLite store is opened for this
// process alone: another server on the same file is refused (sqlite.OpenLocked), and leases
// is nil. A PostgreSQL store is shared with any other replica on the same database, its
// schema migrated first, and leases its tasks to them (leases is the store).
func openStore(ctx context.Context, spec string) (s store, leases tasks.Leases, err error) {
	backend, where, err := parseStore(spec)
	if err != nil {
		return nil, nil, err
	}
	switch backend {
	case backendPostgres:
		s, err := postgres.Open(ctx, where)
		if err != nil {
			return nil, nil, err
		}
		return s, s, nil
	default:
		s, err := sqlite.OpenLocked(ctx, where)
		if err != nil {
			return nil, nil, err
		}
		return s, nil, nil
	}
}
