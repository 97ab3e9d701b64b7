package main

import (
	"strings"
	"testing"

	"github.com/fibergate/fibergate/internal/storage/postgres"
	"github.com/fibergate/fibergate/internal/storage/sqlite"
	"github.com/fibergate/fibergate/internal/storage/storagetest"
)

// A backend written against storagetest.Backend can be wired as the server's store.
var _ store = storagetest.Backend(nil)

func TestParseStore(t *testing.T) {
	tests := []struct {
		spec, backend, where string
	}{
		{"sqlite:fibergate.db", backendSQLite, "fibergate.db"},
		{"sqlite:/var/lib/fibergate/db:1", backendSQLite, "/var/lib/fibergate/db:1"},
		{"postgres://fg@db:5432/fibergate?sslmode=require", backendPostgres, "postgres://fg@db:5432/fibergate?sslmode=require"},
		{"postgresql://fg@db/fibergate", backendPostgres, "postgresql://fg@db/fibergate"},
		{"PostgreSQL://fg@db/fibergate", backendPostgres, "PostgreSQL://fg@db/fibergate"},
	}
	for _, tt := range tests {
		backend, where, err := parseStore(tt.spec)
		if err != nil || backend != tt.backend || where != tt.where {
			t.Errorf("parseStore(%q) = %q, %q, %v; want %q, %q", tt.spec, backend, where, err, tt.backend, tt.where)
		}
	}
	for _, spec := range []string{"", "sqlite:", "fibergate.db", "redis://x", "postgres:/x", "mysql://u:s3cret-pw@db/x"} {
		_, _, err := parseStore(spec)
		if err == nil {
			t.Errorf("parseStore(%q) accepted", spec)
			continue
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("parseStore(%q): the error shows the password: %v", spec, err)
		}
	}
}

// TestConfigRefusesUnknownStore: a -store value no backend takes is refused when the flags are
// read, before anything starts.
func TestConfigRefusesUnknownStore(t *testing.T) {
	if _, err := parseWith([]string{"-store", "fibergate.db"}, nil); err == nil || !strings.Contains(err.Error(), "sqlite:PATH") {
		t.Errorf("-store fibergate.db: %v, want an error naming the forms", err)
	}
	if _, err := parseWith(nil, map[string]string{"FIBERGATE_STORE": "postgres://fg@db/fibergate"}); err != nil {
		t.Errorf("FIBERGATE_STORE=postgres://...: %v", err)
	}
}

// TestPurgeTurnsOnSharedStoresOnly: replicas on PostgreSQL take turns at the purges; a server
// on SQLite, alone on its file, runs every purge itself.
func TestPurgeTurnsOnSharedStoresOnly(t *testing.T) {
	if purgeTurns((*postgres.Store)(nil)) == nil {
		t.Error("a PostgreSQL store gives no purge turns")
	}
	if turns := purgeTurns((*sqlite.Store)(nil)); turns != nil {
		t.Errorf("a SQLite store gives purge turns %T, want nil", turns)
	}
}
