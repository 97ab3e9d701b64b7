package fiberfake_test

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

func TestCancelRefundsUnfinishedPeople(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{PeoplePerSecond: 10, Keys: map[string]float64{"k": 2000}})
		r := e.call(fiberfake.EndpointStart, startBody("k", profiles("p", 10)...)).mustOK(t)
		id := obj(t, r.body, "output")["taskId"].(string)
		time.Sleep(300 * time.Millisecond)

		r = e.call(fiberfake.EndpointCancel, map[string]any{"apiKey": "k", "taskId": id}).mustOK(t)
		if got, want := keysOf(r.body), []string{"advice", "chargeInfo", "output", "warnings"}; !cmp.Equal(got, want) {
			t.Errorf("top-level keys = %v, want %v", got, want)
		}
		out := obj(t, r.body, "output")
		if got := keysOf(out); !cmp.Equal(got, []string{"cancelledCount", "creditsRefunded", "message"}) {
			t.Errorf("output keys = %v", got)
		}
		if out["cancelledCount"] != 7.0 || out["creditsRefunded"] != 35.0 {
			t.Errorf("output = %v, want 7 cancelled and 35 refunded", out)
		}
		charge := obj(t, r.body, "chargeInfo")
		if charge["method"] != "credits-refunded" || charge["creditsRefunded"] != 35.0 {
			t.Errorf("chargeInfo = %v", charge)
		}
		if c, _ := e.sim.Credits("k"); c != 2000-50+35 {
			t.Errorf("credits = %v, want %v", c, 2000-50+35)
		}

		time.Sleep(time.Hour)
		poll := e.call(fiberfake.EndpointPoll, map[string]any{"apiKey": "k", "taskId": id}).mustOK(t)
		pout := obj(t, poll.body, "output")
		if pout["done"] != true || pout["canceled"] != true || pout["failed"] != false {
			t.Errorf("done/canceled/failed = %v/%v/%v, want true/true/false", pout["done"], pout["canceled"], pout["failed"])
		}
		wantStats := map[string]any{"totalPeopleToFetch": 10.0, "numCompleted": 3.0, "numFailed": 0.0, "numRemaining": 7.0, "numRejected": 0.0, "numDuplicates": 0.0}
		if d := cmp.Diff(wantStats, obj(t, pout, "overallStats")); d != "" {
			t.Errorf("overallStats (-want +got):\n%s", d)
		}
		if n := len(list(t, pout, "pageResults")); n != 3 {
			t.Errorf("%d results after cancel, want the 3 completed before", n)
		}
	})
}

func TestCancelRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{PeoplePerSecond: 10})
		running := e.start(profiles("r", 10)...)
		finished := e.start(profiles("f", 1)...)
		canceled := e.start(profiles("c", 10)...)
		e.call(fiberfake.EndpointCancel, map[string]any{"apiKey": fiberfake.DemoAPIKey, "taskId": canceled}).mustOK(t)
		time.Sleep(500 * time.Millisecond)
		tests := []struct {
			name   string
			body   map[string]any
			status int
		}{
			{"unknown key", map[string]any{"apiKey": "nope", "taskId": running}, http.StatusUnauthorized},
			{"no taskId", map[string]any{"apiKey": fiberfake.DemoAPIKey}, http.StatusBadRequest},
			{"unknown task", map[string]any{"apiKey": fiberfake.DemoAPIKey, "taskId": "nope"}, http.StatusNotFound},
			{"finished task", map[string]any{"apiKey": fiberfake.DemoAPIKey, "taskId": finished}, http.StatusUnprocessableEntity},
			{"canceled task", map[string]any{"apiKey": fiberfake.DemoAPIKey, "taskId": canceled}, http.StatusUnprocessableEntity},
		}
		for _, tt := range tests {
			r := e.call(fiberfake.EndpointCancel, tt.body)
			if r.status != tt.status {
				t.Errorf("%s: status = %d, want %d; body %s", tt.name, r.status, tt.status, r.raw)
				continue
			}
			if msg, _ := r.body["message"].(string); msg == "" {
				t.Errorf("%s: body = %s, want a message", tt.name, r.raw)
			}
		}
	})
}
