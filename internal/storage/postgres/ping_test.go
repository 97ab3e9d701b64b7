package postgres_test

import (
	"testing"

	"github.com/fibergate/fibergate/internal/storage/postgres/pgtest"
)

// TestPingThroughCutConnections: a ping after the server cut every connection of the pool
// succeeds on a new one; while the database refuses connections it fails, and once it takes
// them again it succeeds.
func TestPingThroughCutConnections(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	s := openStore(t, dsn)
	ctx := testContext(t)

	// Fill the pool with several connections, then cut them all.
	done := make(chan error, 4)
	for range 4 {
		go func() { done <- s.Ping(ctx) }()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatalf("Ping: %v", err)
		}
	}
	pgtest.CutConnections(t, dsn)
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after the connections were cut: %v, want nil", err)
	}

	end := pgtest.Outage(t, dsn)
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping while the database refuses connections: nil, want an error")
	}
	end()
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping once the database takes connections again: %v, want nil", err)
	}
}
