package service

import (
	"errors"
	"testing"
	"time"

	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/tasks"
)

func TestTokensRoundTripAndStayInTheirScope(t *testing.T) {
	tok := seqToken(kindResume, "task-a", 42)
	if n, err := parseSeqToken(tok, kindResume, "task-a"); err != nil || n != 42 {
		t.Errorf("round trip: %d, %v", n, err)
	}
	for _, bad := range []struct{ tok, kind, task string }{
		{tok, kindResume, "task-b"},  // another task
		{tok, kindResults, "task-a"}, // another kind
		{"%%%", kindResume, "task-a"},
		{seqToken(kindResume, "task-a", -1), kindResume, "task-a"},
		{encodeToken(kindResume, "task-a", "x"), kindResume, "task-a"},
	} {
		if _, err := parseSeqToken(bad.tok, bad.kind, bad.task); !errors.Is(err, tasks.ErrBadToken) {
			t.Errorf("parseSeqToken(%q, %s, %s) = %v, want ErrBadToken", bad.tok, bad.kind, bad.task, err)
		}
	}
	k := storage.PageKey{CreateTime: time.Unix(0, 1764331200123456789).UTC(), ID: "t|1"}
	got, err := parseListToken(listToken("alice", k), "alice")
	if err != nil || !got.CreateTime.Equal(k.CreateTime) || got.ID != k.ID {
		t.Errorf("list token round trip: %+v, %v", got, err)
	}
	if _, err := parseListToken(listToken("alice", k), "bob"); !errors.Is(err, tasks.ErrBadToken) {
		t.Errorf("another owner's list token: %v", err)
	}
}

// FuzzParseTokens: any string is either a valid token of its scope or ErrBadToken; nothing
// panics, and a valid position re-encodes to the same token.
func FuzzParseTokens(f *testing.F) {
	f.Add(seqToken(kindResume, "t", 7), "t")
	f.Add(listToken("o", storage.PageKey{CreateTime: time.Unix(5, 0), ID: "x"}), "o")
	f.Add("", "t")
	f.Add("dzF8dHwxMA", "t")
	f.Fuzz(func(t *testing.T, tok, scope string) {
		if n, err := parseSeqToken(tok, kindResume, scope); err == nil {
			if tok != "" && seqToken(kindResume, scope, n) != tok && n >= 0 {
				// A non-canonical spelling (e.g. "007") may decode; it must name the same position.
				if m, err := parseSeqToken(seqToken(kindResume, scope, n), kindResume, scope); err != nil || m != n {
					t.Fatalf("position %d does not round trip", n)
				}
			}
		} else if !errors.Is(err, tasks.ErrBadToken) {
			t.Fatalf("unexpected error %v", err)
		}
		if _, err := parseListToken(tok, scope); err != nil && !errors.Is(err, tasks.ErrBadToken) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}
