package pgtest

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/fibergate/fibergate/internal/storage/postgres"
)

// CutConnections closes every connection to the database of dsn (a DSN NewDatabase returned),
// as a server restart or a network failure would: clients get an error on their next use of
// them, and may connect again at once.
func CutConnections(t testing.TB, dsn string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn := connect(ctx, t, serverDSN(t))
	defer conn.Close(ctx)
	terminate(ctx, t, conn, databaseName(t, dsn))
}

// Outage makes the database of dsn (a DSN NewDatabase returned) unreachable to its clients:
// it refuses new connections (ALLOW_CONNECTIONS false) and the connections it has are
// closed. end takes connections again; it may be called more than once, and is called when t
// ends.
func Outage(t testing.TB, dsn string) (end func()) {
	t.Helper()
	name := databaseName(t, dsn)
	admin := serverDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn := connect(ctx, t, admin)
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{name}.Sanitize()+` ALLOW_CONNECTIONS false`); err != nil {
		t.Fatalf("refuse connections to %s: %v", name, err)
	}
	terminate(ctx, t, conn, name)
	var once sync.Once
	end = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			conn := connect(ctx, t, admin)
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{name}.Sanitize()+` ALLOW_CONNECTIONS true`); err != nil {
				t.Errorf("take connections to %s again: %v", name, err)
			}
		})
	}
	t.Cleanup(end)
	return end
}

// terminate closes every connection to database name but conn's own.
func terminate(ctx context.Context, t testing.TB, conn *pgx.Conn, name string) {
	t.Helper()
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid()`, name); err != nil {
		t.Fatalf("close the connections to %s: %v", name, err)
	}
}

// databaseName is the database dsn names.
func databaseName(t testing.TB, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || !strings.HasPrefix(u.Path, "/") || len(u.Path) < 2 {
		t.Fatalf("%s names no database", postgres.Redact(dsn))
	}
	return u.Path[1:]
}
