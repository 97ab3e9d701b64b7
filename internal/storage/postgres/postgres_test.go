package postgres_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fibergate/fibergate/internal/storage/postgres"
	"github.com/fibergate/fibergate/internal/storage/postgres/pgtest"
	"github.com/fibergate/fibergate/internal/storage/storagetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	_ storagetest.LeaseBackend     = (*postgres.Store)(nil)
	_ storagetest.PurgeTurnBackend = (*postgres.Store)(nil)
)

// TestContract runs the suite in a database of its own, each subtest in a schema of its own.
func TestContract(t *testing.T) {
	db := pgtest.NewDatabase(t)
	storagetest.Run(t, func(t *testing.T) storagetest.Backend {
		s, err := postgres.Open(testContext(t), pgtest.NewSchema(t, db))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// TestLeases runs the lease and fence part of the contract, as TestContract runs the rest.
func TestLeases(t *testing.T) {
	db := pgtest.NewDatabase(t)
	storagetest.RunLeases(t, func(t *testing.T) storagetest.LeaseBackend {
		s, err := postgres.Open(testContext(t), pgtest.NewSchema(t, db))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// TestPurgeTurns runs the purge-turn part of the contract, as TestContract runs the rest.
func TestPurgeTurns(t *testing.T) {
	db := pgtest.NewDatabase(t)
	storagetest.RunPurgeTurns(t, func(t *testing.T) storagetest.PurgeTurnBackend {
		s, err := postgres.Open(testContext(t), pgtest.NewSchema(t, db))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// testContext returns a context that ends with the test, and after 30s at the latest.
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// openStore opens the store of dsn and closes it with the test.
func openStore(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(testContext(t), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}
