package fiberfake_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

// TestPollPaging reads a task the way a robust client does, in both cursor
// modes: keep the last cursor given; when none is given, poll again with the
// cursor sent and skip the results already seen from it.
func TestPollPaging(t *testing.T) {
	for _, mode := range []fiberfake.CursorMode{fiberfake.CursorNullWhenCaughtUp, fiberfake.CursorRepeatWhenCaughtUp} {
		t.Run(mode.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, fiberfake.Config{PeoplePerSecond: 10, CursorMode: mode})
				urls := profiles("p", 23)
				id := e.start(urls...)
				var got []string
				var cursor any // nil, then the last cursor given
				seenFromCursor := 0
				for i := 0; i < 100; i++ {
					time.Sleep(time.Duration(i%4) * 130 * time.Millisecond)
					out := e.poll(id, cursor, 4)
					page := urlsOf(t, list(t, out, "pageResults"))
					if len(page) > 4 {
						t.Fatalf("page of %d results with take 4", len(page))
					}
					if seenFromCursor > len(page) {
						t.Fatalf("replayed cursor returned %d results, fewer than the %d seen before", len(page), seenFromCursor)
					}
					got = append(got, page[seenFromCursor:]...)
					next := out["nextCursor"]
					switch {
					case next != nil:
						if mode == fiberfake.CursorRepeatWhenCaughtUp && next == cursor && len(page) != 0 {
							t.Fatalf("cursor repeated after a page with results")
						}
						cursor, seenFromCursor = next, 0
					case mode == fiberfake.CursorRepeatWhenCaughtUp:
						t.Fatalf("nextCursor null in repeat mode")
					default:
						seenFromCursor = len(page)
					}
					if out["done"] == true && (next == nil || len(page) == 0) {
						break
					}
				}
				if d := cmp.Diff(urls, got); d != "" {
					t.Errorf("results read (-want +got):\n%s", d)
				}
			})
		})
	}
}

func TestPollCursorModesWhenCaughtUp(t *testing.T) {
	tests := []struct {
		mode       fiberfake.CursorMode
		wantCursor bool
	}{
		{fiberfake.CursorNullWhenCaughtUp, false},
		{fiberfake.CursorRepeatWhenCaughtUp, true},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, fiberfake.Config{PeoplePerSecond: 10, CursorMode: tt.mode})
				id := e.start(profiles("p", 4)...)

				first := e.poll(id, nil, 0) // nothing completed yet
				if (first["nextCursor"] != nil) != tt.wantCursor {
					t.Errorf("empty first page: nextCursor = %v", first["nextCursor"])
				}
				time.Sleep(200 * time.Millisecond)
				out := e.poll(id, nil, 2) // exactly the 2 completed
				if (out["nextCursor"] != nil) != tt.wantCursor {
					t.Fatalf("caught-up page: nextCursor = %v", out["nextCursor"])
				}
				if !tt.wantCursor {
					return
				}
				c := out["nextCursor"]
				again := e.poll(id, c, 2)
				if len(list(t, again, "pageResults")) != 0 || again["nextCursor"] != c {
					t.Errorf("polling the repeated cursor: %d results, nextCursor %v, want none and the same cursor", len(list(t, again, "pageResults")), again["nextCursor"])
				}
				time.Sleep(time.Second)
				last := e.poll(id, c, 10)
				if n := len(list(t, last, "pageResults")); n != 2 || last["done"] != true || last["nextCursor"] == nil {
					t.Errorf("after completion: %d results, done %v, nextCursor %v", n, last["done"], last["nextCursor"])
				}
			})
		})
	}
}

func TestPollReplaysACursor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{PeoplePerSecond: 10, NoDataRate: 0.3})
		id := e.start(profiles("p", 10)...)
		time.Sleep(time.Second)
		c := e.poll(id, nil, 3)["nextCursor"]
		a, b := e.poll(id, c, 3), e.poll(id, c, 3)
		if d := cmp.Diff(a, b); d != "" {
			t.Errorf("same cursor, different pages (-first +second):\n%s", d)
		}
		if got := urlsOf(t, list(t, a, "pageResults")); !cmp.Equal(got, profiles("p", 10)[3:6]) {
			t.Errorf("page = %v, want people 3 to 5", got)
		}
	})
}
