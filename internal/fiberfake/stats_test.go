package fiberfake_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

func TestPollsRecordsEachCursorSentAndAnswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{PeoplePerSecond: 10})
		id := e.start(profiles("p", 5)...)
		t0 := time.Now()
		time.Sleep(300 * time.Millisecond) // 3 completed

		first := e.poll(id, nil, 2)
		c1 := first["nextCursor"].(string)
		time.Sleep(10 * time.Millisecond)
		second := e.poll(id, c1, 2) // reaches the 3 completed: null cursor
		if second["nextCursor"] != nil {
			t.Fatalf("caught-up page: nextCursor %v, want null", second["nextCursor"])
		}
		time.Sleep(10 * time.Millisecond)
		e.poll(id, c1, 2) // the caller repeats its cursor
		// A refused poll (a cursor of nothing) is not a page.
		e.call(fiberfake.EndpointPoll, map[string]any{"apiKey": fiberfake.DemoAPIKey, "taskId": id, "cursor": "bogus"})

		want := []fiberfake.PollRecord{
			{At: t0.Add(300 * time.Millisecond), Cursor: "", NextCursor: &c1, Results: 2},
			{At: t0.Add(310 * time.Millisecond), Cursor: c1, NextCursor: nil, Results: 1},
			{At: t0.Add(320 * time.Millisecond), Cursor: c1, NextCursor: nil, Results: 1},
		}
		if diff := cmp.Diff(want, e.sim.Polls(id)); diff != "" {
			t.Errorf("Polls (-want +got):\n%s", diff)
		}
		if got := e.sim.Polls("no-such-task"); len(got) != 0 {
			t.Errorf("Polls of an unknown task: %v", got)
		}
	})
}

func TestPollLogServesEveryTaskInStartOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{PeoplePerSecond: 10})
		t0 := time.Now()
		a := e.start(profiles("a", 3)...)
		time.Sleep(100 * time.Millisecond)
		b := e.start(append(profiles("b", 2), profiles("b", 1)...)...) // a duplicate is not a person
		time.Sleep(200 * time.Millisecond)
		e.poll(a, nil, 0) // 3 completed

		r, err := e.do(http.MethodGet, "/_sim/polls", nil)
		if err != nil || r.status != http.StatusOK {
			t.Fatalf("GET /_sim/polls: %v, %d %s", err, r.status, r.raw)
		}
		var got struct {
			Tasks []fiberfake.TaskPolls `json:"tasks"`
		}
		if err := json.Unmarshal(r.raw, &got); err != nil {
			t.Fatalf("decode %s: %v", r.raw, err)
		}
		want := []fiberfake.TaskPolls{
			{TaskID: a, People: 3, StartedAt: t0, Polls: []fiberfake.PollRecord{{At: t0.Add(300 * time.Millisecond), Results: 3}}},
			{TaskID: b, People: 2, StartedAt: t0.Add(100 * time.Millisecond), Polls: []fiberfake.PollRecord{}},
		}
		if diff := cmp.Diff(want, got.Tasks); diff != "" {
			t.Errorf("GET /_sim/polls (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, e.sim.PollLog()); diff != "" {
			t.Errorf("PollLog (-want +got):\n%s", diff)
		}
	})
}

func TestStatsCreditsChargedCountsStartsNotRefunds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{PeoplePerSecond: 10})
		e.start(profiles("p", 4)...)                                             // 4 people at 5 credits
		e.start(append(profiles("q", 2), "https://www.linkedin.com/in/reject-x", // rejected: not charged
			"https://www.linkedin.com/in/nodata-y")...) // charged, refunded once completed
		time.Sleep(time.Second) // every person completed: the no-data person is refunded
		want := 4*5.0 + 3*5.0
		if got := e.sim.Stats().CreditsCharged; got != want {
			t.Errorf("CreditsCharged = %v, want %v", got, want)
		}
		if bal, _ := e.sim.Credits(fiberfake.DemoAPIKey); bal != fiberfake.DefaultDemoCredits-want+5 {
			t.Errorf("balance %v, want %v (the no-data person refunded)", bal, fiberfake.DefaultDemoCredits-want+5)
		}
	})
}
