package tasks

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/fiberpb"
	"github.com/fibergate/fibergate/internal/storage"
)

// TestFinish follows tasks whose people are all finished (or cancelled) upstream before the
// first poll through the simulator's modes, and checks that every result is stored exactly
// once, the final state, and the number of polls: a task ends on the answer whose counts
// prove every result fetched, and costs a confirming poll only where the counts cannot.
func TestFinish(t *testing.T) {
	type finishCase struct {
		name   string
		cfg    fiberfake.Config // PeoplePerSecond 0: every person finished at once
		people int
		// failEvery: every failEvery-th person, from the first, has a "fail-" slug; 0: none.
		failEvery int
		// cancelAfter: if not 0, the task is cancelled upstream that long after its start, and
		// tracked only then.
		cancelAfter time.Duration
		// noStats: the answers carry no overallStats, as from a stand-in that sends none or
		// nulls (both decode to zero counts).
		noStats   bool
		state     storage.State
		results   int
		wantPolls int
	}
	var tests []finishCase
	for _, mode := range []fiberfake.CursorMode{fiberfake.CursorNullWhenCaughtUp, fiberfake.CursorRepeatWhenCaughtUp} {
		cfg := fiberfake.Config{CursorMode: mode}
		// The confirming poll: a last page that comes back full with a new cursor (repeat mode
		// only: a null cursor ends the task at once) is followed unless the counts say done.
		confirm := 0
		if mode == fiberfake.CursorRepeatWhenCaughtUp {
			confirm = 1
		}
		name := func(format string, args ...any) string { return mode.String() + "/" + fmt.Sprintf(format, args...) }
		for _, n := range []int{1, 99, 100, 101, 500, 2000} {
			tests = append(tests, finishCase{name: name("%d people", n), cfg: cfg, people: n,
				state: storage.StateSucceeded, results: n, wantPolls: (n + PageSize - 1) / PageSize})
		}
		withMisses := cfg
		withMisses.NoDataRate = 0.3
		tests = append(tests,
			finishCase{name: name("no data and failures are paged and counted"), cfg: withMisses, people: 500, failEvery: 5,
				state: storage.StateSucceeded, results: 500, wantPolls: 5},
			finishCase{name: name("everybody failed"), cfg: cfg, people: 100, failEvery: 1,
				state: storage.StateFailed, results: 100, wantPolls: 1},
			finishCase{name: name("no counts"), cfg: cfg, people: 500, noStats: true,
				state: storage.StateSucceeded, results: 500, wantPolls: 5 + confirm},
			finishCase{name: name("cancelled after 300"), cfg: fiberfake.Config{CursorMode: mode, PeoplePerSecond: 100}, people: 500,
				cancelAfter: 3 * time.Second, state: storage.StateCanceled, results: 300, wantPolls: 3 + confirm},
			finishCase{name: name("cancelled after 250"), cfg: fiberfake.Config{CursorMode: mode, PeoplePerSecond: 100}, people: 500,
				cancelAfter: 2500 * time.Millisecond, state: storage.StateCanceled, results: 250, wantPolls: 3},
		)
		unpaged := cfg
		unpaged.FailedUnpaged = true
		tests = append(tests,
			// Counted, never paged: the counts never match the 400 results, so they end nothing.
			finishCase{name: name("failures counted, not paged"), cfg: unpaged, people: 500, failEvery: 5,
				state: storage.StateSucceeded, results: 400, wantPolls: 4 + confirm},
			finishCase{name: name("failures counted, not paged, last page short"), cfg: unpaged, people: 500, failEvery: 3,
				state: storage.StateSucceeded, results: 333, wantPolls: 4},
			finishCase{name: name("everybody failed, not paged"), cfg: unpaged, people: 100, failEvery: 1,
				state: storage.StateFailed, results: 0, wantPolls: 1},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				if tt.cfg.PeoplePerSecond == 0 {
					tt.cfg.PeoplePerSecond = math.Inf(1)
				}
				tt.cfg.Seed = 13
				e := newEnv(t, tt.cfg)
				if tt.noStats {
					e.stop()
					e.client2 = statsDropper{e.client}
					e.startEngine(fastPolicy)
				}
				urls := make([]string, tt.people)
				for i := range urls {
					slug := fmt.Sprintf("person-%d", i)
					if tt.failEvery > 0 && i%tt.failEvery == 0 {
						slug = "fail-" + slug
					}
					urls[i] = "https://www.linkedin.com/in/" + slug
				}
				id := e.startURLs(urls, tt.cancelAfter)
				task := e.waitFinished(id)

				if task.State != tt.state || task.NumResults != tt.results {
					t.Errorf("task ended %v with %d results, want %v with %d", task.State, task.NumResults, tt.state, tt.results)
				}
				paged := urls
				if tt.cancelAfter > 0 {
					paged = urls[:tt.results]
				}
				if tt.cfg.FailedUnpaged {
					paged = nil
					for _, u := range urls {
						if !strings.Contains(u, "/fail-") {
							paged = append(paged, u)
						}
					}
				}
				if d := cmp.Diff(paged, e.storedURLs(id)); d != "" {
					t.Errorf("stored results (-want +got):\n%s", d)
				}
				if got := len(e.sim.Polls(id)); got != tt.wantPolls {
					t.Errorf("%d polls, want %d", got, tt.wantPolls)
				}
			})
		})
	}
}

// statsDropper stands in for a Fiber whose poll answers carry no overallStats.
type statsDropper struct{ Upstream }

func (s statsDropper) Poll(ctx context.Context, key string, req fiber.PollRequest) (*fiber.PollResponse, error) {
	resp, err := s.Upstream.Poll(ctx, key, req)
	if resp != nil {
		resp.Stats = fiber.OverallStats{}
	}
	return resp, err
}

// startURLs starts a batch of urls upstream and tracks it. With cancelAfter, it is cancelled
// upstream that long after its start, and tracked only then.
func (e *env) startURLs(urls []string, cancelAfter time.Duration) string {
	e.t.Helper()
	ctx := testContext(e.t)
	resp, err := e.client.Start(ctx, testKey, fiber.StartRequest{LinkedInURLs: urls})
	if err != nil {
		e.t.Fatal(err)
	}
	if cancelAfter > 0 {
		time.Sleep(cancelAfter)
		if _, err := e.client.Cancel(ctx, testKey, resp.TaskID); err != nil {
			e.t.Fatal(err)
		}
	}
	if _, err := e.engine.Track(ctx, "alice", testKey, fiberpb.StartResponseFromFiber(resp), storage.Enrichment{WorkEmails: true, PersonalEmails: true, PhoneNumbers: true}); err != nil {
		e.t.Fatal(err)
	}
	return resp.TaskID
}

// storedURLs returns the URLs of task id's stored results, in order.
func (e *env) storedURLs(id string) []string {
	e.t.Helper()
	var urls []string
	for {
		rs, err := e.store.ReadResults(testContext(e.t), id, len(urls), 1000)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(rs) == 0 {
			return urls
		}
		res, err := decodeResults(rs)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, r := range res {
			urls = append(urls, r.GetLinkedinUrl())
		}
	}
}

func TestFetchedAll(t *testing.T) {
	// A done task of 500 people, all counted finished, 500 results stored.
	all := fiber.PollResponse{Done: true, Stats: fiber.OverallStats{TotalPeopleToFetch: 500, NumCompleted: 450, NumFailed: 50, NumRejected: 7, NumDuplicates: 3}}
	tests := []struct {
		name   string
		change func(r *fiber.PollResponse)
		stored int
		want   bool
	}{
		{"every person counted is stored", func(*fiber.PollResponse) {}, 500, true},
		{"every person failed and is stored", func(r *fiber.PollResponse) {
			r.Failed, r.Stats.NumCompleted, r.Stats.NumFailed = true, 0, 500
		}, 500, true},
		{"a page is missing", func(*fiber.PollResponse) {}, 400, false},
		{"not done", func(r *fiber.PollResponse) { r.Done = false }, 500, false},
		{"cancelled", func(r *fiber.PollResponse) { r.Canceled = true }, 500, false},
		{"people remain", func(r *fiber.PollResponse) { r.Stats.NumRemaining, r.Stats.TotalPeopleToFetch = 1, 501 }, 500, false},
		{"counts that do not add up to the total", func(r *fiber.PollResponse) { r.Stats.TotalPeopleToFetch = 600 }, 500, false},
		{"people counted but never paged", func(r *fiber.PollResponse) {}, 450, false},
		{"fewer counted than stored", func(r *fiber.PollResponse) {
			r.Stats.TotalPeopleToFetch, r.Stats.NumCompleted = 400, 350
		}, 500, false},
		{"no counts", func(r *fiber.PollResponse) { r.Stats = fiber.OverallStats{} }, 100, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := all
			tt.change(&r)
			if got := fetchedAll(&r, tt.stored); got != tt.want {
				t.Errorf("fetchedAll(%+v, %d) = %v, want %v", r, tt.stored, got, tt.want)
			}
		})
	}
}

// TestCountsBelowThePagesAreNotTrusted: once an answer counts fewer people finished than
// results are stored, the counts do not end the task.
func TestCountsBelowThePagesAreNotTrusted(t *testing.T) {
	start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	p := newPacer(Policy{}.withDefaults(), start, true, &keyPace{})
	observe := func(counted, stored int) {
		task := storage.Task{Stats: storage.Stats{NumCompleted: counted, NumRemaining: 500 - counted}, NumResults: stored}
		start = start.Add(time.Second)
		p.observe(start, task, PageSize, true)
	}
	observe(150, 100)
	if !p.countsTrusted() {
		t.Fatal("counts ahead of the pages are not trusted")
	}
	observe(180, 200)
	observe(500, 300)
	if p.countsTrusted() {
		t.Error("counts that once ran below the stored results are still trusted")
	}
}
