package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fibergate/fibergate/internal/storage"
)

// TestMigrateAmbiguousKinds opens a file of schema version 4, from before the kinds of
// ambiguous starts: its records come back as of unknown outcome, with no task id and no
// response, and a record of another kind can be added.
func TestMigrateAmbiguousKinds(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "fibergate.db")
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	old := storage.AmbiguousStart{ID: "amb-old", Time: at, Owner: "alice", KeyID: "k", RequestKey: "alice/r", URLs: []string{"u"}, Error: "e"}
	s := openStore(t, path)
	if err := s.RecordAmbiguousStart(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	db := rawDB(t, path)
	for _, q := range []string{
		"ALTER TABLE ambiguous_starts DROP COLUMN kind",
		"ALTER TABLE ambiguous_starts DROP COLUMN task_id",
		"ALTER TABLE ambiguous_starts DROP COLUMN response",
		"ALTER TABLE requests DROP COLUMN owner", // and what later versions add
		"ALTER TABLE requests DROP COLUMN lease_expiry",
		"PRAGMA user_version = 4",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	s = openStore(t, path)
	if v := queryInt(t, db, "PRAGMA user_version"); v != 6 {
		t.Errorf("user_version = %d, want 6", v)
	}
	added := storage.AmbiguousStart{ID: "amb-new", Time: at.Add(time.Second), Kind: storage.AmbiguousNotRecorded,
		Owner: "bob", KeyID: "k2", TaskID: "task-1", Response: []byte{0, 1, 0xff}, Error: "store task task-1: disk full"}
	if err := s.RecordAmbiguousStart(ctx, added); err != nil {
		t.Fatalf("RecordAmbiguousStart after migration: %v", err)
	}
	got, err := s.ListAmbiguousStarts(ctx, at)
	if err != nil {
		t.Fatalf("ListAmbiguousStarts after migration: %v", err)
	}
	old.Kind = storage.AmbiguousOutcomeUnknown
	if diff := cmp.Diff([]storage.AmbiguousStart{old, added}, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("records after migration (-want +got):\n%s", diff)
	}
}
