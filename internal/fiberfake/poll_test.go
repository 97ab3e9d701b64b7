package fiberfake_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

func TestPollAnswerShape(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{PeoplePerSecond: 10})
		id := e.start("https://www.linkedin.com/in/ada", "https://www.linkedin.com/in/nodata-bob")
		time.Sleep(time.Second)
		r := e.call(fiberfake.EndpointPoll, map[string]any{"apiKey": fiberfake.DemoAPIKey, "taskId": id}).mustOK(t)

		if got, want := keysOf(r.body), []string{"advice", "chargeInfo", "output", "warnings"}; !cmp.Equal(got, want) {
			t.Errorf("top-level keys = %v, want %v", got, want)
		}
		wantCharge := map[string]any{"method": "free", "message": "Polling is free.", "lowCreditAlert": nil}
		if d := cmp.Diff(wantCharge, obj(t, r.body, "chargeInfo")); d != "" {
			t.Errorf("chargeInfo (-want +got):\n%s", d)
		}
		out := obj(t, r.body, "output")
		if got, want := keysOf(out), []string{"canceled", "done", "failed", "nextCursor", "overallStats", "pageResults"}; !cmp.Equal(got, want) {
			t.Errorf("output keys = %v, want %v", got, want)
		}
		if out["done"] != true || out["failed"] != false || out["canceled"] != false {
			t.Errorf("done/failed/canceled = %v/%v/%v, want true/false/false", out["done"], out["failed"], out["canceled"])
		}
		if c, ok := out["nextCursor"]; !ok || c != nil {
			t.Errorf("nextCursor = %v (present %v), want null once caught up", c, ok)
		}
		wantStats := map[string]any{"totalPeopleToFetch": 2.0, "numCompleted": 2.0, "numFailed": 0.0, "numRemaining": 0.0, "numRejected": 0.0, "numDuplicates": 0.0}
		if d := cmp.Diff(wantStats, obj(t, out, "overallStats")); d != "" {
			t.Errorf("overallStats (-want +got):\n%s", d)
		}
		results := list(t, out, "pageResults")
		if len(results) != 2 {
			t.Fatalf("%d results, want 2", len(results))
		}
		found, missing := results[0].(map[string]any), results[1].(map[string]any)
		for _, res := range results {
			if got := keysOf(res.(map[string]any)); !cmp.Equal(got, []string{"inputs", "outputs"}) {
				t.Errorf("result keys = %v", got)
			}
		}
		if d := cmp.Diff(map[string]any{"linkedinUrl": map[string]any{"value": "https://www.linkedin.com/in/ada"}}, found["inputs"]); d != "" {
			t.Errorf("inputs (-want +got):\n%s", d)
		}
		if o, ok := missing["outputs"]; !ok || o != nil {
			t.Errorf("no-data outputs = %v (present %v), want null", o, ok)
		}
		outputs := obj(t, found, "outputs")
		if got := keysOf(outputs); !cmp.Equal(got, []string{"emails", "exhaustive", "phoneNumbers"}) {
			t.Errorf("outputs keys = %v", got)
		}
		if _, ok := outputs["exhaustive"].(bool); !ok {
			t.Errorf("exhaustive = %T, want bool", outputs["exhaustive"])
		}
		emails := list(t, outputs, "emails")
		if len(emails) == 0 {
			t.Fatal("no emails for a found person with every type requested")
		}
		for _, em := range emails {
			m := em.(map[string]any)
			if got := keysOf(m); !cmp.Equal(got, []string{"email", "status", "type"}) {
				t.Errorf("email keys = %v", got)
			}
			if !strings.HasPrefix(m["email"].(string), "ada@") {
				t.Errorf("email = %v, want one built from the slug", m["email"])
			}
			if !oneOf(m["type"], "work", "personal", "other", "unknown", "generic") || !oneOf(m["status"], "valid", "risky", "unknown", "invalid") {
				t.Errorf("email %v has an undocumented type or status", m)
			}
		}
		for _, ph := range list(t, outputs, "phoneNumbers") {
			m := ph.(map[string]any)
			if got := keysOf(m); !cmp.Equal(got, []string{"number", "type"}) {
				t.Errorf("phone keys = %v", got)
			}
			if !oneOf(m["type"], "mobile", "other", "unknown") {
				t.Errorf("phone %v has an undocumented type", m)
			}
		}
	})
}

// oneOf reports whether v is one of the allowed strings.
func oneOf(v any, allowed ...string) bool {
	s, ok := v.(string)
	return ok && slices.Contains(allowed, s)
}

func TestPollProgressFollowsTheClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		began := time.Now()
		e := newEnv(t, fiberfake.Config{PeoplePerSecond: 10})
		id := e.start(profiles("p", 5)...)
		steps := []struct {
			advance   time.Duration
			completed float64
			done      bool
		}{
			{0, 0, false},
			{99 * time.Millisecond, 0, false},
			{time.Millisecond, 1, false},
			{250 * time.Millisecond, 3, false},
			{150 * time.Millisecond, 5, true},
			{time.Hour, 5, true},
		}
		for _, s := range steps {
			time.Sleep(s.advance)
			out := e.poll(id, nil, 0)
			stats := obj(t, out, "overallStats")
			if stats["numCompleted"] != s.completed || stats["numRemaining"] != 5-s.completed || out["done"] != s.done {
				t.Errorf("after %v: completed %v remaining %v done %v, want %v %v %v",
					time.Since(began), stats["numCompleted"], stats["numRemaining"], out["done"], s.completed, 5-s.completed, s.done)
			}
			if n := len(list(t, out, "pageResults")); float64(n) != s.completed {
				t.Errorf("after %v: %d results, want %v", time.Since(began), n, s.completed)
			}
		}
	})
}

func TestPollRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{Keys: map[string]float64{"k1": 100, "k2": 100}})
		r := e.call(fiberfake.EndpointStart, startBody("k1", profiles("p", 2)...)).mustOK(t)
		id := obj(t, r.body, "output")["taskId"].(string)
		r = e.call(fiberfake.EndpointStart, startBody("k1", profiles("q", 2)...)).mustOK(t)
		other := obj(t, r.body, "output")["taskId"].(string)
		time.Sleep(time.Second)
		pr := e.call(fiberfake.EndpointPoll, map[string]any{"apiKey": "k1", "taskId": other, "take": 1}).mustOK(t)
		otherCursor := obj(t, pr.body, "output")["nextCursor"]
		tests := []struct {
			name   string
			body   map[string]any
			status int
		}{
			{"unknown key", map[string]any{"apiKey": "k3", "taskId": id}, http.StatusUnauthorized},
			{"no taskId", map[string]any{"apiKey": "k1"}, http.StatusBadRequest},
			{"unknown task", map[string]any{"apiKey": "k1", "taskId": "0000"}, http.StatusNotFound},
			{"task of another key", map[string]any{"apiKey": "k2", "taskId": id}, http.StatusNotFound},
			{"take 0", map[string]any{"apiKey": "k1", "taskId": id, "take": 0}, http.StatusBadRequest},
			{"take 101", map[string]any{"apiKey": "k1", "taskId": id, "take": 101}, http.StatusBadRequest},
			{"take fraction", map[string]any{"apiKey": "k1", "taskId": id, "take": 2.5}, http.StatusBadRequest},
			{"take string", map[string]any{"apiKey": "k1", "taskId": id, "take": "5"}, http.StatusBadRequest},
			{"cursor garbage", map[string]any{"apiKey": "k1", "taskId": id, "cursor": "abc"}, http.StatusBadRequest},
			{"cursor of another task", map[string]any{"apiKey": "k1", "taskId": id, "cursor": otherCursor}, http.StatusBadRequest},
			{"cursor not a string", map[string]any{"apiKey": "k1", "taskId": id, "cursor": 5}, http.StatusBadRequest},
		}
		for _, tt := range tests {
			r := e.call(fiberfake.EndpointPoll, tt.body)
			if r.status != tt.status {
				t.Errorf("%s: status = %d, want %d; body %s", tt.name, r.status, tt.status, r.raw)
				continue
			}
			if msg, _ := r.body["message"].(string); msg == "" || len(r.body) != 1 {
				t.Errorf("%s: body = %s, want just a message", tt.name, r.raw)
			}
		}
		// A null cursor and a null take are the defaults.
		e.call(fiberfake.EndpointPoll, map[string]any{"apiKey": "k1", "taskId": id, "cursor": nil, "take": nil}).mustOK(t)
	})
}

func TestPollReturnsOnlyRequestedTypes(t *testing.T) {
	tests := []struct {
		name                  string
		work, personal, phone bool
	}{
		{"work", true, false, false},
		{"personal", false, true, false},
		{"phone", false, false, true},
		{"emails", true, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, fiberfake.Config{PeoplePerSecond: 1000})
				body := startBody(fiberfake.DemoAPIKey, profiles("p", 30)...)
				body["enrichmentTypes"] = map[string]any{"getWorkEmails": tt.work, "getPersonalEmails": tt.personal, "getPhoneNumbers": tt.phone}
				id := obj(t, e.call(fiberfake.EndpointStart, body).mustOK(t).body, "output")["taskId"].(string)
				time.Sleep(time.Second)
				for _, res := range list(t, e.poll(id, nil, 0), "pageResults") {
					out := obj(t, res.(map[string]any), "outputs")
					emails, phones := list(t, out, "emails"), list(t, out, "phoneNumbers")
					if len(emails)+len(phones) == 0 {
						t.Errorf("found person without any data: %v", out)
					}
					if !tt.phone && len(phones) > 0 {
						t.Errorf("phones %v not requested", phones)
					}
					for _, em := range emails {
						typ := em.(map[string]any)["type"]
						if (typ == "work" && !tt.work) || (typ == "personal" && !tt.personal) {
							t.Errorf("email %v not requested", em)
						}
					}
				}
			})
		})
	}
}

func TestPollFailedPeople(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{PeoplePerSecond: 1000, Keys: map[string]float64{"k": 100}})
		r := e.call(fiberfake.EndpointStart, startBody("k", "https://www.linkedin.com/in/fail-a", "https://www.linkedin.com/in/b")).mustOK(t)
		id := obj(t, r.body, "output")["taskId"].(string)
		time.Sleep(time.Second)
		out := e.call(fiberfake.EndpointPoll, map[string]any{"apiKey": "k", "taskId": id}).mustOK(t).body["output"].(map[string]any)
		stats := obj(t, out, "overallStats")
		if stats["numFailed"] != 1.0 || stats["numCompleted"] != 1.0 || stats["numRemaining"] != 0.0 {
			t.Errorf("overallStats = %v, want 1 failed and 1 completed", stats)
		}
		results := list(t, out, "pageResults")
		if len(results) != 2 || results[0].(map[string]any)["outputs"] != nil {
			t.Errorf("results = %v, want the failed person first with null outputs", results)
		}
		if out["done"] != true || out["failed"] != false {
			t.Errorf("done %v failed %v, want a done task that did not fail", out["done"], out["failed"])
		}
		if c, _ := e.sim.Credits("k"); c != 95 {
			t.Errorf("credits = %v, want 95 (the failed person refunded)", c)
		}

		r = e.call(fiberfake.EndpointStart, startBody("k", "https://www.linkedin.com/in/fail-c")).mustOK(t)
		id = obj(t, r.body, "output")["taskId"].(string)
		time.Sleep(time.Second)
		out = e.call(fiberfake.EndpointPoll, map[string]any{"apiKey": "k", "taskId": id}).mustOK(t).body["output"].(map[string]any)
		if out["done"] != true || out["failed"] != true {
			t.Errorf("done %v failed %v, want a failed task when everyone failed", out["done"], out["failed"])
		}
	})
}

// TestPollFailedUnpaged: with FailedUnpaged, failed people are counted but never paged, and a
// page that only failed people follow ends where the completed people end.
func TestPollFailedUnpaged(t *testing.T) {
	for _, mode := range []fiberfake.CursorMode{fiberfake.CursorNullWhenCaughtUp, fiberfake.CursorRepeatWhenCaughtUp} {
		t.Run(mode.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, fiberfake.Config{PeoplePerSecond: 1000, FailedUnpaged: true, CursorMode: mode})
				in := func(slug string) string { return "https://www.linkedin.com/in/" + slug }
				id := e.start(in("fail-a"), in("b"), in("fail-c"), in("d"), in("fail-e"), in("fail-f"))
				time.Sleep(time.Second)
				var got []string
				var cursor any
				for range 10 {
					out := e.poll(id, cursor, 1)
					stats := obj(t, out, "overallStats")
					if stats["numFailed"] != 4.0 || stats["numCompleted"] != 2.0 || stats["numRemaining"] != 0.0 || out["done"] != true {
						t.Fatalf("overallStats = %v, done %v: want 4 failed, 2 completed, done", stats, out["done"])
					}
					page := urlsOf(t, list(t, out, "pageResults"))
					got = append(got, page...)
					next := out["nextCursor"]
					if next == nil || next == cursor {
						break // caught up
					}
					cursor = next
				}
				if want := []string{in("b"), in("d")}; !cmp.Equal(got, want) {
					t.Errorf("paged %v, want %v", got, want)
				}
				// d's page ends past fail-e and fail-f, caught up: its nextCursor is null, or
				// the cursor of the end, which the next poll gets back with no result.
				polls := e.sim.Polls(id)
				want := 2
				if mode == fiberfake.CursorRepeatWhenCaughtUp {
					want = 3
				}
				if len(polls) != want {
					t.Fatalf("%d polls, want %d: %+v", len(polls), want, polls)
				}
				switch last := polls[len(polls)-1]; mode {
				case fiberfake.CursorNullWhenCaughtUp:
					if last.NextCursor != nil {
						t.Errorf("the page that reached the end has nextCursor %q, want null", *last.NextCursor)
					}
				default:
					if last.Results != 0 || last.NextCursor == nil || *last.NextCursor != last.Cursor {
						t.Errorf("the poll after the end = %+v, want no result and the same cursor", last)
					}
				}

				all := e.start(in("fail-x"), in("fail-y"))
				time.Sleep(time.Second)
				out := e.poll(all, nil, 0)
				if n := len(list(t, out, "pageResults")); n != 0 || out["done"] != true || out["failed"] != true {
					t.Errorf("a task whose people all failed: %d results, done %v, failed %v; want none, done, failed", n, out["done"], out["failed"])
				}
			})
		})
	}
}
