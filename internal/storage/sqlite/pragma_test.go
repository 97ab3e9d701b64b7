package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// TestPragmas checks the settings of every connection of both pools.
func TestPragmas(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	s, err := Open(ctx, filepath.Join(t.TempDir(), "fibergate.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})

	common := map[string]int{"busy_timeout": busyTimeoutMillis, "foreign_keys": 1, "synchronous": 1}
	tests := []struct {
		name  string
		db    *sql.DB
		conns int
		want  map[string]int
	}{
		{"writer", s.write, 1, map[string]int{"query_only": 0}},
		{"readers", s.read, readConns, map[string]int{"query_only": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Hold conns connections at once so that each is a different one.
			for i := range tt.conns {
				c, err := tt.db.Conn(ctx)
				if err != nil {
					t.Fatalf("Conn %d: %v", i, err)
				}
				t.Cleanup(func() { c.Close() })
				for _, want := range []map[string]int{common, tt.want} {
					for pragma, v := range want {
						var got int
						if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
							t.Fatalf("PRAGMA %s: %v", pragma, err)
						}
						if got != v {
							t.Errorf("connection %d: %s = %d, want %d", i, pragma, got, v)
						}
					}
				}
			}
		})
	}
}
