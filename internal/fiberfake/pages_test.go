package fiberfake_test

import (
	"testing"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

func TestCountPages(t *testing.T) {
	cur := func(s string) *string { return &s }
	polls := []fiberfake.PollRecord{
		{Cursor: "", NextCursor: cur("c100"), Results: 100},     // full
		{Cursor: "c100", NextCursor: nil, Results: 95},          // part: caught up, null cursor
		{Cursor: "c100", NextCursor: cur("c200"), Results: 100}, // 5 new: part
		{Cursor: "c200", NextCursor: nil, Results: 100},         // full, but caught up: null cursor
		{Cursor: "c200", NextCursor: cur("c300"), Results: 100}, // the same page again: empty
		{Cursor: "c300", NextCursor: nil, Results: 0},           // empty: confirms the end
		{Cursor: "elsewhere", NextCursor: nil, Results: 7},      // a cursor never handed out
	}
	got := fiberfake.CountPages(polls, 100)
	if want := (fiberfake.PageCounts{Full: 2, Part: 2, Empty: 3}); got != want {
		t.Errorf("CountPages = %v, want %v", got, want)
	}
	if got, want := got.Add(fiberfake.PageCounts{Full: 1, Part: 1, Empty: 1}), (fiberfake.PageCounts{Full: 3, Part: 3, Empty: 4}); got != want {
		t.Errorf("Add = %v, want %v", got, want)
	}
	if got.Polls() != 7 {
		t.Errorf("Polls = %d, want 7", got.Polls())
	}
}
