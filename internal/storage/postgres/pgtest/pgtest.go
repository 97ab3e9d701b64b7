// Package pgtest gives tests PostgreSQL databases of their own on a shared server, so that
// parallel test runs never meet.
//
// The server is named by the environment variable FIBERGATE_TEST_POSTGRES, a postgres:// URL
// of a role that may create databases, by default DefaultDSN (the machine's server, trust
// authentication). When it cannot be reached, a test is skipped, unless the environment
// variable CI is set: then it fails, so that CI never passes without running it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fibergate/fibergate/internal/storage/postgres"
)

// EnvDSN is the environment variable naming the server tests use.
const EnvDSN = "FIBERGATE_TEST_POSTGRES"

// DefaultDSN is the server tests use when EnvDSN is not set.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// timeout bounds each administrative step (connect, create, drop).
const timeout = 30 * time.Second

// NewDatabase creates an empty database named fibergate_test_<random hex> for t and returns
// its DSN: the server's DSN with the database name replaced. The database is dropped, with any
// connection left to it, when t and its subtests end. Where the server supports it, the
// database's collation is ICU's en-US, which orders text unlike its bytes ("a" < "B"), as
// production databases often do.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := serverDSN(t)
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL, have %s", EnvDSN, postgres.Redact(admin))
	}
	name := "fibergate_test_" + randomHex(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn := connect(ctx, t, admin)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `CREATE DATABASE `+name+` TEMPLATE template0 ENCODING 'UTF8'
		LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`)
	if err != nil {
		t.Logf("no ICU collation (%v): creating the database with the server's default", err)
		_, err = conn.Exec(ctx, `CREATE DATABASE `+name)
	}
	if err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		conn := connect(ctx, t, admin)
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// NewSchema creates an empty schema in the database of dsn (a DSN NewDatabase returned) and
// returns a DSN whose connections work in it (search_path). It goes with the database.
func NewSchema(t testing.TB, dsn string) string {
	t.Helper()
	name := "s_" + randomHex(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn := connect(ctx, t, dsn)
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+name); err != nil {
		t.Fatalf("create schema %s: %v", name, err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse %s: %v", postgres.Redact(dsn), err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// serverDSN returns the server's DSN, after checking that it can be reached: if not, it
// skips t, or fails it when CI is set.
func serverDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		dsn = DefaultDSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		msg := fmt.Sprintf("PostgreSQL at %s cannot be reached (set %s to another server): %v", postgres.Redact(dsn), EnvDSN, err)
		if os.Getenv("CI") != "" {
			t.Fatalf("%s; CI is set, so this test fails rather than skip", msg)
		}
		t.Skip(msg)
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	return dsn
}

// connect connects to dsn or fails t.
func connect(ctx context.Context, t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", postgres.Redact(dsn), err)
	}
	return conn
}

// randomHex is 16 random hex digits: names that never collide.
func randomHex(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
