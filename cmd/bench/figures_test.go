package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestBacklogTime(t *testing.T) {
	r := fiberfake.Rate{N: 30, Per: 6 * time.Second}
	for _, tc := range []struct {
		n    int
		lat  time.Duration
		want time.Duration
	}{
		{0, time.Second, 0},
		{1, 50 * time.Millisecond, 50 * time.Millisecond},
		{30, 0, 0},               // one window
		{31, 0, 6 * time.Second}, // the 31st waits for the first to leave the window
		{60, 0, 6 * time.Second}, //
		{90, 100 * time.Millisecond, 12100 * time.Millisecond}, // start 61 leaves at 12s
		{91, 0, 18 * time.Second},
	} {
		if got := backlogTime(tc.n, r, tc.lat); got != tc.want {
			t.Errorf("backlogTime(%d, %v, %v) = %v, want %v", tc.n, r, tc.lat, got, tc.want)
		}
	}
}

func TestPagesFor(t *testing.T) {
	for people, want := range map[int]int{0: 0, 1: 1, 100: 1, 101: 2, 500: 5, 2000: 20} {
		if got := pagesFor(people); got != want {
			t.Errorf("pagesFor(%d) = %d, want %d", people, got, want)
		}
	}
}

func TestDrainIdeals(t *testing.T) {
	r := fiberfake.Rate{N: 10, Per: time.Second}
	if got, want := resultsPerMinute(r), 60000.0; got != want {
		t.Errorf("resultsPerMinute(%v) = %v, want %v", r, got, want)
	}
	if got := resultsPerMinute(fiberfake.Rate{N: 240, Per: time.Minute}); got != 24000 {
		t.Errorf("resultsPerMinute(240/1m) = %v, want 24000 (Fiber's own limit)", got)
	}
	// 20,000 results: 200 full pages, 10 at once and 10 more each second: the 200th at 19s.
	if got, want := drainSpan(20000, r), 19*time.Second; got != want {
		t.Errorf("drainSpan(20000) = %v, want %v", got, want)
	}
	if got, want := drainRate(20000, r), 20000/(19.0/60); math.Abs(got-want) > 1e-6 {
		t.Errorf("drainRate(20000) = %v, want %v", got, want)
	}
	if got := drainRate(500, r); !math.IsInf(got, 1) {
		t.Errorf("drainRate of one window's polls = %v, want +Inf (they all go at once)", got)
	}
}

func TestLongestWait(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) fiberfake.PollRecord {
		return fiberfake.PollRecord{At: t0.Add(time.Duration(ms) * time.Millisecond)}
	}
	end := t0.Add(time.Minute)
	for _, tc := range []struct {
		name  string
		polls []fiberfake.PollRecord
		want  time.Duration
	}{
		{"never polled: until the end", nil, time.Minute},
		{"start to the first poll", []fiberfake.PollRecord{at(3000), at(4000)}, 3 * time.Second},
		{"between two polls", []fiberfake.PollRecord{at(1000), at(2000), at(9500), at(10000)}, 7500 * time.Millisecond},
		{"the time after the last poll does not count", []fiberfake.PollRecord{at(1000)}, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := longestWait(fiberfake.TaskPolls{StartedAt: t0, Polls: tc.polls}, end); got != tc.want {
				t.Errorf("longestWait = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPageReaderCountsEachResultOnce(t *testing.T) {
	cur := func(s string) *string { return &s }
	page := func(n int, next *string) *fiber.PollResponse {
		return &fiber.PollResponse{Results: make([]fiber.PersonResult, n), NextCursor: next}
	}
	var r pageReader
	steps := []struct {
		page     *fiber.PollResponse
		wantGot  int
		wantMore bool
	}{
		{page(100, cur("a")), 100, true},  // full, moved: the next may be waiting
		{page(30, nil), 130, false},       // caught up: null cursor, the next poll repeats "a"
		{page(60, nil), 160, false},       // the same 30 again and 30 new
		{page(100, cur("b")), 200, true},  // the 60 again and 40 new, moved
		{page(100, cur("b")), 300, false}, // a repeated cursor: not moved
		{page(100, cur("b")), 300, false}, // the same page again: nothing new
	}
	for i, s := range steps {
		if more := r.read(s.page); more != s.wantMore || r.got != s.wantGot {
			t.Fatalf("step %d: got %d, more %v; want %d, %v", i, r.got, more, s.wantGot, s.wantMore)
		}
	}
}

func TestVerdictAndFormats(t *testing.T) {
	if got := verdict("≤ 1.03×", true); got != "≤ 1.03×: met" {
		t.Errorf("verdict met = %q", got)
	}
	if got := verdict("0", false); got != "0: **missed**" {
		t.Errorf("verdict missed = %q", got)
	}
	if got := secs(12345 * time.Millisecond); got != "12.35 s" {
		t.Errorf("secs = %q", got)
	}
	if got := times(ratio(3, 2)); got != "1.50×" {
		t.Errorf("times = %q", got)
	}
	if got := ratio(1, 0); !math.IsInf(got, 1) {
		t.Errorf("ratio(1, 0) = %v, want +Inf", got)
	}
}

func TestWriteSection(t *testing.T) {
	var b strings.Builder
	writeSection(&b, section{
		title: "Start backlog",
		setup: "Limits start 30/6s.",
		rows: []row{
			{figure: "time", fibergate: "12.20 s", baseline: "26.00 s", ideal: "12.10 s", ratio: "1.01×", goal: "≤ 1.03×: met"},
			{figure: "429s", fibergate: "0", ideal: "0"},
		},
		notes: []string{"Ideal: 12 s plus a start."},
	})
	want := `
## Start backlog

Limits start 30/6s.

| figure | fibergate | without fibergate | ideal | ratio | goal |
|---|---|---|---|---|---|
| time | 12.20 s | 26.00 s | 12.10 s | 1.01× | ≤ 1.03×: met |
| 429s | 0 | – | 0 | – | – |

Ideal: 12 s plus a start.
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("writeSection (-want +got):\n%s", diff)
	}
}

func TestScenarioNamesAreUniqueAndListed(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range scenarios() {
		if s.name == "" || strings.Contains(s.name, ",") || seen[s.name] || s.run == nil {
			t.Errorf("scenario %q: empty, with a comma, repeated or without a run", s.name)
		}
		seen[s.name] = true
	}
	for _, name := range []string{"fanout", "startbacklog", "polleff", "drain"} {
		if !seen[name] {
			t.Errorf("scenario %q missing", name)
		}
	}
}
