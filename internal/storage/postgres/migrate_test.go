package postgres_test

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/storage/postgres"
	"github.com/fibergate/fibergate/internal/storage/postgres/pgtest"
)

// migrations are the versions of the package's migrations, read from migrations/.
func migrations(t *testing.T) []int64 {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	var vs []int64
	for _, f := range files {
		v, err := strconv.ParseInt(strings.SplitN(filepath.Base(f), "_", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("migration %s: %v", f, err)
		}
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

// rawConn connects to dsn directly, bypassing the store, and closes with the test.
func rawConn(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(testContext(t), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() {
		if err := conn.Close(context.Background()); err != nil {
			t.Errorf("close raw connection: %v", err)
		}
	})
	return conn
}

// appliedVersions returns the versions goose recorded, one entry per record, oldest first.
func appliedVersions(t *testing.T, conn *pgx.Conn) []int64 {
	t.Helper()
	rows, _ := conn.Query(testContext(t), `SELECT version_id FROM fibergate_schema_version ORDER BY id`)
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatalf("read versions: %v", err)
	}
	return vs
}

// wantVersions fails t unless version 0 and each migration's are recorded once, in order.
func wantVersions(t *testing.T, got []int64) {
	t.Helper()
	if want := append([]int64{0}, migrations(t)...); !slices.Equal(got, want) {
		t.Fatalf("versions recorded %v, want %v once each", got, want)
	}
}

// TestMigrateTwice: opening a migrated database again changes nothing, and keeps the data.
func TestMigrateTwice(t *testing.T) {
	dsn := pgtest.NewSchema(t, pgtest.NewDatabase(t))
	ctx := testContext(t)
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	task := storage.Task{ID: "t1", Owner: "alice", State: storage.StateRunning}
	if err := s.CreateTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	conn := rawConn(t, dsn)
	before := appliedVersions(t, conn)
	wantVersions(t, before)

	s = openStore(t, dsn)
	wantVersions(t, appliedVersions(t, conn))
	if got, err := s.GetTask(ctx, "t1"); err != nil || got.Owner != "alice" {
		t.Errorf("task after the second Open: %+v, %v", got, err)
	}
}

// TestConcurrentOpen: replicas starting at once on a new database all open it, and the schema
// is migrated once.
func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.NewSchema(t, pgtest.NewDatabase(t))
	ctx := testContext(t)
	const replicas = 3
	var (
		wg     sync.WaitGroup
		start  = make(chan struct{})
		stores = make([]*postgres.Store, replicas)
		errs   = make([]error, replicas)
	)
	for i := range replicas {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = postgres.Open(ctx, dsn)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Open: %v", i, err)
			continue
		}
		t.Cleanup(func() {
			if err := stores[i].Close(); err != nil {
				t.Errorf("replica %d: Close: %v", i, err)
			}
		})
	}
	if t.Failed() {
		t.FailNow()
	}
	wantVersions(t, appliedVersions(t, rawConn(t, dsn)))
	// Every replica works on the one schema.
	if err := stores[0].CreateTask(ctx, storage.Task{ID: "t1", Owner: "alice", State: storage.StateRunning}); err != nil {
		t.Fatal(err)
	}
	for i, s := range stores {
		if _, err := s.GetTask(ctx, "t1"); err != nil {
			t.Errorf("replica %d: GetTask: %v", i, err)
		}
	}
}

// TestNewerSchemaRefused: a database a newer fibergate migrated is not opened.
func TestNewerSchemaRefused(t *testing.T) {
	dsn := pgtest.NewSchema(t, pgtest.NewDatabase(t))
	ctx := testContext(t)
	openStore(t, dsn)
	conn := rawConn(t, dsn)
	if _, err := conn.Exec(ctx, `INSERT INTO fibergate_schema_version (version_id, is_applied) VALUES (99, true)`); err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func(context.Context, string) (*postgres.Store, error){
		"Open": postgres.Open, "OpenExisting": postgres.OpenExisting,
	} {
		s, err := open(ctx, dsn)
		if err == nil {
			s.Close()
			t.Errorf("%s of a newer schema succeeded", name)
		} else if !strings.Contains(err.Error(), "newer") {
			t.Errorf("%s of a newer schema: %v, want it to say the schema is newer", name, err)
		}
	}
}

// TestOpenExisting: a reader opens a store a server made, and refuses an empty database
// without creating anything in it.
func TestOpenExisting(t *testing.T) {
	dsn := pgtest.NewSchema(t, pgtest.NewDatabase(t))
	ctx := testContext(t)
	if s, err := postgres.OpenExisting(ctx, dsn); err == nil {
		s.Close()
		t.Fatal("OpenExisting of an empty database succeeded")
	} else if !strings.Contains(err.Error(), "no fibergate schema") {
		t.Errorf("OpenExisting of an empty database: %v, want it to say there is no schema", err)
	}
	var tables int
	if err := rawConn(t, dsn).QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("OpenExisting left %d tables in an empty database", tables)
	}

	openStore(t, dsn)
	s, err := postgres.OpenExisting(ctx, dsn)
	if err != nil {
		t.Fatalf("OpenExisting of a migrated database: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
