package storagetest

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fibergate/fibergate/internal/storage"
)

// ambiguous is a record made at at(sec), every field set.
func ambiguous(id string, sec int) storage.AmbiguousStart {
	return storage.AmbiguousStart{
		ID:         id,
		Time:       at(sec),
		Kind:       storage.AmbiguousNotRecorded,
		Owner:      "billing",
		KeyID:      "key-1",
		RequestKey: "billing/0e9f7d3c-2b1a-4c5d-8e6f-7a8b9c0d1e2f",
		URLs:       []string{"https://www.linkedin.com/in/jake", "https://www.linkedin.com/in/ada-é"},
		TaskID:     "task-" + id,
		Response:   append([]byte("\x00start "+id+"\xff"), allBytes()...),
		Error:      "store task task-" + id + ": database is locked",
	}
}

// unknownOutcome is a record made at at(sec) of a start whose outcome is unknown: no task id,
// no response, no request key, no URLs.
func unknownOutcome(id string, sec int) storage.AmbiguousStart {
	return storage.AmbiguousStart{
		ID:    id,
		Time:  at(sec),
		Kind:  storage.AmbiguousOutcomeUnknown,
		Owner: "billing",
		KeyID: "key-1",
		Error: "fiber start: outcome unknown (HTTP 503): try later",
	}
}

// testAmbiguousStarts: records round-trip, every field and kind, list oldest first from a
// time on, refuse a taken id, and go with PurgeFinished once older than its cutoff.
func testAmbiguousStarts(t *testing.T, s Backend) {
	ctx := testContext(t)
	if got, err := s.ListAmbiguousStarts(ctx, at(-1000)); err != nil || len(got) != 0 {
		t.Fatalf("empty store: %v, %v", got, err)
	}
	b, a, c := ambiguous("b", 10), ambiguous("a", 10), unknownOutcome("c", 20)
	b.Kind, b.Response = storage.AmbiguousIDConflict, nil
	for _, r := range []storage.AmbiguousStart{c, b, a} {
		if err := s.RecordAmbiguousStart(ctx, r); err != nil {
			t.Fatalf("record %s: %v", r.ID, err)
		}
	}
	if err := s.RecordAmbiguousStart(ctx, ambiguous("a", 30)); !errors.Is(err, storage.ErrExists) {
		t.Errorf("record a taken id: %v, want ErrExists", err)
	}
	opts := []cmp.Option{cmpopts.EquateEmpty(), cmp.Comparer(func(x, y storage.AmbiguousStart) bool {
		same := y
		same.Time = x.Time // the same instant, in any location
		return x.Time.Equal(y.Time) && cmp.Equal(x, same, cmpopts.EquateEmpty())
	})}
	got, err := s.ListAmbiguousStarts(ctx, at(0))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]storage.AmbiguousStart{a, b, c}, got, opts...); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	if got, err := s.ListAmbiguousStarts(ctx, at(20)); err != nil || len(got) != 1 || got[0].ID != "c" {
		t.Errorf("list from the last record's time: %v, %v; want c only", got, err)
	}
	if _, err := s.PurgeFinished(ctx, at(20)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ListAmbiguousStarts(ctx, at(-1000)); err != nil || len(got) != 1 || got[0].ID != "c" {
		t.Errorf("after PurgeFinished(at(20)): %v, %v; want c only", got, err)
	}
}
