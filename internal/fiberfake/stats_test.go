package fiberfake_test

import (
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
		time.Sleep(300 * time.Millisecond) // 3 completed

		first := e.poll(id, nil, 2)
		c1 := first["nextCursor"].(string)
		second := e.poll(id, c1, 2) // reaches the 3 completed: null cursor
		if second["nextCursor"] != nil {
			t.Fatalf("caught-up page: nextCursor %v, want null", second["nextCursor"])
		}
		e.poll(id, c1, 2) // the caller repeats its cursor
		// A refused poll (a cursor of nothing) is not a page.
		e.call(fiberfake.EndpointPoll, map[string]any{"apiKey": fiberfake.DemoAPIKey, "taskId": id, "cursor": "bogus"})

		want := []fiberfake.PollRecord{
			{Cursor: "", NextCursor: &c1, Results: 2},
			{Cursor: c1, NextCursor: nil, Results: 1},
			{Cursor: c1, NextCursor: nil, Results: 1},
		}
		if diff := cmp.Diff(want, e.sim.Polls(id)); diff != "" {
			t.Errorf("Polls (-want +got):\n%s", diff)
		}
		if got := e.sim.Polls("no-such-task"); len(got) != 0 {
			t.Errorf("Polls of an unknown task: %v", got)
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
