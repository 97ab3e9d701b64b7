package fiberfake_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

func TestStartAnswerShape(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{})
		r := e.call(fiberfake.EndpointStart, startBody(fiberfake.DemoAPIKey,
			"https://www.linkedin.com/in/ada", "https://www.linkedin.com/in/grace", "linkedin.com/in/ada/")).mustOK(t)

		if got, want := keysOf(r.body), []string{"advice", "chargeInfo", "output", "warnings"}; !cmp.Equal(got, want) {
			t.Errorf("top-level keys = %v, want %v", got, want)
		}
		if w, ok := r.body["warnings"]; !ok || w != nil {
			t.Errorf("warnings = %v (present %v), want null", w, ok)
		}
		if _, ok := r.body["advice"].([]any); !ok {
			t.Errorf("advice = %T, want an array", r.body["advice"])
		}
		out := obj(t, r.body, "output")
		taskID, _ := out["taskId"].(string)
		if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(taskID) {
			t.Errorf("taskId = %q, want a lower-case UUID", taskID)
		}
		delete(out, "taskId")
		wantOut := map[string]any{"numPeopleEnqueued": 2.0, "numDuplicatesSkipped": 1.0}
		if d := cmp.Diff(wantOut, out); d != "" {
			t.Errorf("output (-want +got):\n%s", d)
		}
		wantCharge := map[string]any{"method": "charged-now", "creditsCharged": 10.0, "lowCreditAlert": nil}
		if d := cmp.Diff(wantCharge, obj(t, r.body, "chargeInfo")); d != "" {
			t.Errorf("chargeInfo (-want +got):\n%s", d)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
	})
}

func TestStartRefusals(t *testing.T) {
	ok := "https://www.linkedin.com/in/ada"
	people := func(items ...any) map[string]any {
		return map[string]any{"apiKey": fiberfake.DemoAPIKey, "personDetails": items}
	}
	person := func(v any) map[string]any { return map[string]any{"linkedinUrl": map[string]any{"value": v}} }
	tests := []struct {
		name     string
		body     any
		status   int
		mentions string
	}{
		{"not json", "{", http.StatusBadRequest, "JSON object"},
		{"array body", "[]", http.StatusBadRequest, "JSON object"},
		{"no apiKey", map[string]any{"personDetails": []any{person(ok)}}, http.StatusUnauthorized, "apiKey"},
		{"empty apiKey", map[string]any{"apiKey": "", "personDetails": []any{person(ok)}}, http.StatusUnauthorized, "apiKey"},
		{"unknown apiKey", startBody("nope", ok), http.StatusUnauthorized, "apiKey"},
		{"apiKey not a string", map[string]any{"apiKey": 7}, http.StatusBadRequest, "apiKey"},
		{"no personDetails", map[string]any{"apiKey": fiberfake.DemoAPIKey}, http.StatusBadRequest, "personDetails"},
		{"personDetails not an array", map[string]any{"apiKey": fiberfake.DemoAPIKey, "personDetails": "x"}, http.StatusBadRequest, "personDetails"},
		{"no people", people(), http.StatusBadRequest, "personDetails"},
		{"too many people", startBody(fiberfake.DemoAPIKey, profiles("p", 2001)...), http.StatusBadRequest, "at most 2000"},
		{"person not an object", people(person(ok), 5), http.StatusBadRequest, "personDetails.1"},
		{"no linkedinUrl", people(person(ok), map[string]any{}), http.StatusBadRequest, "personDetails.1.linkedinUrl"},
		{"no value", people(map[string]any{"linkedinUrl": map[string]any{}}), http.StatusBadRequest, "personDetails.0.linkedinUrl.value"},
		{"value not a string", people(person(3)), http.StatusBadRequest, "personDetails.0.linkedinUrl.value"},
		{"empty url", people(person("")), http.StatusBadRequest, "personDetails.0.linkedinUrl.value"},
		{"upper-case host", people(person("https://www.LinkedIn.com/in/ada")), http.StatusBadRequest, "personDetails.0.linkedinUrl.value"},
		{"other site", people(person("https://example.com/in/ada")), http.StatusBadRequest, "linkedinUrl.value"},
		{"company page", people(person("https://www.linkedin.com/company/acme")), http.StatusBadRequest, "linkedinUrl.value"},
		{"no slug", people(person("https://www.linkedin.com/in/")), http.StatusBadRequest, "linkedinUrl.value"},
		{"all types off", map[string]any{"apiKey": fiberfake.DemoAPIKey, "personDetails": []any{person(ok)},
			"enrichmentTypes": map[string]any{"getWorkEmails": false, "getPersonalEmails": false, "getPhoneNumbers": false}},
			http.StatusBadRequest, "enrichmentTypes"},
		{"type not a boolean", map[string]any{"apiKey": fiberfake.DemoAPIKey, "personDetails": []any{person(ok)},
			"enrichmentTypes": map[string]any{"getWorkEmails": "yes"}}, http.StatusBadRequest, "enrichmentTypes.getWorkEmails"},
		{"everyone rejected", startBody(fiberfake.DemoAPIKey, "https://www.linkedin.com/in/reject-a"), http.StatusBadRequest, "rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, fiberfake.Config{})
				r := e.call(fiberfake.EndpointStart, tt.body)
				if r.status != tt.status {
					t.Fatalf("status = %d, want %d; body %s", r.status, tt.status, r.raw)
				}
				if got := keysOf(r.body); !cmp.Equal(got, []string{"message"}) {
					t.Errorf("body keys = %v, want [message]", got)
				}
				if msg, _ := r.body["message"].(string); !strings.Contains(msg, tt.mentions) {
					t.Errorf("message %q does not mention %q", msg, tt.mentions)
				}
				if n := len(e.sim.StartedTasks()); n != 0 {
					t.Errorf("%d tasks started, want none", n)
				}
				if c, _ := e.sim.Credits(fiberfake.DemoAPIKey); c != fiberfake.DefaultDemoCredits {
					t.Errorf("credits = %v, want untouched", c)
				}
			})
		})
	}
}

func TestStartAcceptsFiberURLForms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		urls := []string{
			"https://www.linkedin.com/in/ada",
			"http://linkedin.com/in/bob/",
			"linkedin.de/in/carol",
			"https://uk.linkedin.com/in/dan?trk=x",
			"https://www.linkedin.com/in/eve/details/experience", // the pattern is not anchored at the end
			"https://www.linkedin.com/sales/lead/ACwAAA,NAME_SEARCH",
			"https://www.linkedin.com/talent/profile/AEMAAA#top",
		}
		e := newEnv(t, fiberfake.Config{})
		r := e.call(fiberfake.EndpointStart, startBody(fiberfake.DemoAPIKey, urls...)).mustOK(t)
		if n := obj(t, r.body, "output")["numPeopleEnqueued"]; n != float64(len(urls)) {
			t.Errorf("numPeopleEnqueued = %v, want %d", n, len(urls))
		}
	})
}

func TestStartWarnsAboutUnknownFields(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{})
		body := map[string]any{
			"apiKey": fiberfake.DemoAPIKey,
			"zeta":   1,
			"alpha":  true,
			"personDetails": []any{
				map[string]any{"linkedinUrl": map[string]any{"value": "https://www.linkedin.com/in/ada"}},
				map[string]any{"name": "Bob", "linkedinUrl": map[string]any{"value": "https://www.linkedin.com/in/bob", "v": 2}},
			},
			"enrichmentTypes": map[string]any{"getEverything": true},
		}
		r := e.call(fiberfake.EndpointStart, body).mustOK(t)
		var got []string
		for _, w := range list(t, r.body, "warnings") {
			m := w.(map[string]any)
			if msg, _ := m["message"].(string); msg == "" || len(m) != 2 {
				t.Errorf("warning %v: want exactly field and a message", m)
			}
			got = append(got, m["field"].(string))
		}
		want := []string{"alpha", "zeta", "personDetails.1.name", "personDetails.1.linkedinUrl.v", "enrichmentTypes.getEverything"}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("warning fields (-want +got):\n%s", d)
		}
	})
}

func TestStartPricing(t *testing.T) {
	tests := []struct {
		name                  string
		work, personal, phone bool
		perPerson             float64
	}{
		{"all", true, true, true, 5},
		{"work only", true, false, false, 2},
		{"personal only", false, true, false, 2},
		{"phone only", false, false, true, 3},
		{"work and personal", true, true, false, 4},
		{"work and phone", true, false, true, 5},
		{"personal and phone", false, true, true, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, fiberfake.Config{})
				body := startBody(fiberfake.DemoAPIKey, profiles("p", 3)...)
				body["enrichmentTypes"] = map[string]any{"getWorkEmails": tt.work, "getPersonalEmails": tt.personal, "getPhoneNumbers": tt.phone}
				r := e.call(fiberfake.EndpointStart, body).mustOK(t)
				if got := obj(t, r.body, "chargeInfo")["creditsCharged"]; got != 3*tt.perPerson {
					t.Errorf("creditsCharged = %v, want %v", got, 3*tt.perPerson)
				}
				if c, _ := e.sim.Credits(fiberfake.DemoAPIKey); c != fiberfake.DefaultDemoCredits-3*tt.perPerson {
					t.Errorf("balance = %v, want %v", c, fiberfake.DefaultDemoCredits-3*tt.perPerson)
				}
			})
		})
	}
}

func TestStartSkipsDuplicatesAndRejects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{PeoplePerSecond: 1000})
		urls := []string{
			"https://www.linkedin.com/in/Ada",
			"https://www.linkedin.com/in/reject-me",
			"linkedin.com/in/ada/",
			"https://www.linkedin.com/in/ada?trk=1",
			"https://www.linkedin.com/in/%61da",
			"https://www.linkedin.com/in/bob",
			"https://www.linkedin.com/sales/lead/ada", // another kind of id: another person
			"https://www.linkedin.com/in/reject-me/",
		}
		r := e.call(fiberfake.EndpointStart, startBody(fiberfake.DemoAPIKey, urls...)).mustOK(t)
		out := obj(t, r.body, "output")
		if out["numPeopleEnqueued"] != 3.0 || out["numDuplicatesSkipped"] != 4.0 {
			t.Errorf("output = %v, want 3 enqueued and 4 duplicates", out)
		}
		if got := obj(t, r.body, "chargeInfo")["creditsCharged"]; got != 15.0 {
			t.Errorf("creditsCharged = %v, want 15", got)
		}
		time.Sleep(time.Second)
		poll := e.poll(out["taskId"].(string), nil, 0)
		stats := obj(t, poll, "overallStats")
		want := map[string]any{"totalPeopleToFetch": 3.0, "numCompleted": 3.0, "numFailed": 0.0, "numRemaining": 0.0, "numRejected": 1.0, "numDuplicates": 4.0}
		if d := cmp.Diff(want, stats); d != "" {
			t.Errorf("overallStats (-want +got):\n%s", d)
		}
		wantURLs := []string{urls[0], urls[5], urls[6]}
		if d := cmp.Diff(wantURLs, urlsOf(t, list(t, poll, "pageResults"))); d != "" {
			t.Errorf("result urls (-want +got):\n%s", d)
		}
	})
}

func TestStartRejectRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{RejectRate: 0.5, Seed: 7})
		r := e.call(fiberfake.EndpointStart, startBody(fiberfake.DemoAPIKey, profiles("p", 200)...)).mustOK(t)
		n := obj(t, r.body, "output")["numPeopleEnqueued"].(float64)
		if n < 70 || n > 130 {
			t.Errorf("numPeopleEnqueued = %v of 200 at reject rate 0.5", n)
		}
		if got := obj(t, r.body, "chargeInfo")["creditsCharged"]; got != 5*n {
			t.Errorf("creditsCharged = %v, want %v (rejected people are free)", got, 5*n)
		}
	})
}
