package sqlite_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fibergate/fibergate/internal/storage"
)

// TestMigrateRequests opens a file of schema version 1, from before idempotent requests and
// ambiguous-start records: its tasks stay, and both work.
func TestMigrateRequests(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "fibergate.db")
	s := openStore(t, path)
	want := fill(t, s, "task-1", 3)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	db := rawDB(t, path)
	for _, q := range []string{"DROP TABLE requests", "DROP TABLE ambiguous_starts", "ALTER TABLE tasks DROP COLUMN cancellation", "PRAGMA user_version = 1"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	s = openStore(t, path)
	if v := queryInt(t, db, "PRAGMA user_version"); v != 6 {
		t.Errorf("user_version = %d, want 6", v)
	}
	rs, err := s.ReadResults(ctx, "task-1", 0, 10)
	if err != nil {
		t.Fatalf("ReadResults after migration: %v", err)
	}
	if diff := cmp.Diff(want, rs); diff != "" {
		t.Errorf("results after migration (-want +got):\n%s", diff)
	}
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	r := storage.Request{Key: "alice/req-1", PayloadHash: "h", State: storage.RequestPending, CreateTime: at, ExpireTime: at.Add(time.Hour)}
	if _, claimed, err := s.ClaimRequest(ctx, r, time.Minute); err != nil || !claimed {
		t.Fatalf("ClaimRequest after migration = %v, %v; want claimed", claimed, err)
	}
	got, err := s.GetRequest(ctx, r.Key, at)
	if err != nil {
		t.Fatalf("GetRequest after migration: %v", err)
	}
	if diff := cmp.Diff(r, got, cmpopts.IgnoreFields(storage.Request{}, "LeaseExpiry")); diff != "" {
		t.Errorf("GetRequest after migration (-want +got):\n%s", diff)
	}
	a := storage.AmbiguousStart{ID: "amb-1", Time: at, Owner: "alice", KeyID: "k", URLs: []string{"u"}, Error: "e"}
	if err := s.RecordAmbiguousStart(ctx, a); err != nil {
		t.Fatalf("RecordAmbiguousStart after migration: %v", err)
	}
	if got, err := s.ListAmbiguousStarts(ctx, at); err != nil || len(got) != 1 || got[0].ID != "amb-1" {
		t.Errorf("ListAmbiguousStarts after migration = %v, %v", got, err)
	}
}

func TestClaimRequestRefused(t *testing.T) {
	ctx := testContext(t)
	s := openStore(t, filepath.Join(t.TempDir(), "fibergate.db"))
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name           string
		create, expire time.Time
	}{
		{"expires as created", at, at},
		{"expires before created", at, at.Add(-1)},
		{"no expire time", at, time.Time{}},
		{"expire time out of range", at, time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"create time is the epoch", time.Unix(0, 0), at},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := storage.Request{Key: "alice/req-1", PayloadHash: "h", CreateTime: tt.create, ExpireTime: tt.expire}
			if _, claimed, err := s.ClaimRequest(ctx, r, time.Minute); err == nil {
				t.Errorf("ClaimRequest(create %v, expire %v) = %v, nil; want an error", tt.create, tt.expire, claimed)
			}
		})
	}
	if _, err := s.GetRequest(ctx, "alice/req-1", at); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetRequest after refused claims = %v, want %v", err, storage.ErrNotFound)
	}
}

// TestMigrateRequestLeases opens a file of schema version 5, from before request owners and
// leases: a record left pending then has no owner and a lease that has run out, so the next
// ResolveRequest gives it up; a record finished then stays as it was.
func TestMigrateRequestLeases(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "fibergate.db")
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	pending := storage.Request{Key: "alice/req-pending", PayloadHash: "h", State: storage.RequestPending, CreateTime: at, ExpireTime: at.Add(time.Hour)}
	done := storage.Request{Key: "alice/req-done", PayloadHash: "h", State: storage.RequestDone, Response: []byte("answer"), CreateTime: at, ExpireTime: at.Add(time.Hour)}
	s := openStore(t, path)
	for _, r := range []storage.Request{pending, done} {
		if _, claimed, err := s.ClaimRequest(ctx, r, time.Hour); err != nil || !claimed {
			t.Fatalf("ClaimRequest(%s) = %v, %v; want claimed", r.Key, claimed, err)
		}
	}
	if err := s.FinishRequest(ctx, done.Key, done.State, done.Response); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	db := rawDB(t, path)
	for _, q := range []string{
		"ALTER TABLE requests DROP COLUMN owner",
		"ALTER TABLE requests DROP COLUMN lease_expiry",
		"PRAGMA user_version = 5",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	s = openStore(t, path)
	if v := queryInt(t, db, "PRAGMA user_version"); v != 6 {
		t.Errorf("user_version = %d, want 6", v)
	}
	for _, r := range []storage.Request{pending, done} {
		got, err := s.GetRequest(ctx, r.Key, at)
		if err != nil {
			t.Fatalf("GetRequest(%s) after migration: %v", r.Key, err)
		}
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("GetRequest(%s) after migration (-want +got):\n%s", r.Key, diff)
		}
	}
	pending.State = storage.RequestUnknown
	for _, want := range []storage.Request{pending, done} {
		got, err := s.ResolveRequest(ctx, want.Key, at)
		if err != nil {
			t.Fatalf("ResolveRequest(%s) after migration: %v", want.Key, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ResolveRequest(%s) after migration (-want +got):\n%s", want.Key, diff)
		}
	}
}
