package fiberfake_test

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

func TestLowCreditAlert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{Keys: map[string]float64{"k": 1010}})
		r := e.call(fiberfake.EndpointStart, startBody("k", profiles("a", 2)...)).mustOK(t)
		if a, ok := obj(t, r.body, "chargeInfo")["lowCreditAlert"]; !ok || a != nil {
			t.Errorf("lowCreditAlert = %v at 1000 credits left, want null", a)
		}
		r = e.call(fiberfake.EndpointStart, startBody("k", profiles("b", 1)...)).mustOK(t)
		alert := obj(t, obj(t, r.body, "chargeInfo"), "lowCreditAlert")
		if got := keysOf(alert); !cmp.Equal(got, []string{"availableCredits", "getMoreCreditsUrl", "message"}) {
			t.Errorf("lowCreditAlert keys = %v", got)
		}
		if alert["availableCredits"] != 995.0 || alert["getMoreCreditsUrl"] != fiberfake.DefaultGetMoreCreditsURL {
			t.Errorf("lowCreditAlert = %v, want 995 available", alert)
		}
	})
}

func TestOutOfCredits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{Keys: map[string]float64{"k": 7}})
		r := e.call(fiberfake.EndpointStart, startBody("k", profiles("a", 2)...))
		if r.status != http.StatusPaymentRequired {
			t.Fatalf("status = %d, want 402; body %s", r.status, r.raw)
		}
		if got := keysOf(r.body); !cmp.Equal(got, []string{"message", "outOfCreditsAlert"}) {
			t.Errorf("body keys = %v", got)
		}
		alert := obj(t, r.body, "outOfCreditsAlert")
		if alert["availableCredits"] != 7.0 || alert["message"] == "" || alert["getMoreCreditsUrl"] == "" {
			t.Errorf("outOfCreditsAlert = %v", alert)
		}
		if c, _ := e.sim.Credits("k"); c != 7 {
			t.Errorf("credits = %v, want 7 (nothing charged)", c)
		}
		if n := len(e.sim.StartedTasks()); n != 0 {
			t.Errorf("%d tasks started", n)
		}
		// One person still fits.
		e.call(fiberfake.EndpointStart, startBody("k", profiles("a", 1)...)).mustOK(t)
		if c, _ := e.sim.Credits("k"); c != 2 {
			t.Errorf("credits = %v, want 2", c)
		}
	})
}

func TestNoDataPeopleAreRefundedWhenTheyComplete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		began := time.Now()
		e := newEnv(t, fiberfake.Config{PeoplePerSecond: 10, Keys: map[string]float64{"k": 100}})
		urls := []string{"https://www.linkedin.com/in/a", "https://www.linkedin.com/in/nodata-b", "https://www.linkedin.com/in/c"}
		e.call(fiberfake.EndpointStart, startBody("k", urls...)).mustOK(t)
		steps := []struct {
			advance time.Duration
			credits float64
		}{
			{0, 85},
			{150 * time.Millisecond, 85},
			{100 * time.Millisecond, 90},
			{time.Hour, 90},
		}
		for _, s := range steps {
			time.Sleep(s.advance)
			if c, _ := e.sim.Credits("k"); c != s.credits {
				t.Errorf("at %v: credits = %v, want %v", time.Since(began), c, s.credits)
			}
		}
		tasks := e.sim.StartedTasks()
		if len(tasks) != 1 || tasks[0].CreditsCharged != 15 || tasks[0].CreditsRefunded != 5 || !tasks[0].Done {
			t.Errorf("StartedTasks = %+v", tasks)
		}
	})
}

func TestSetCreditsAddsAKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{})
		e.sim.SetCredits("fresh", 3)
		body := startBody("fresh", "https://www.linkedin.com/in/a")
		body["enrichmentTypes"] = map[string]any{"getWorkEmails": false, "getPersonalEmails": false}
		r := e.call(fiberfake.EndpointStart, body).mustOK(t)
		if a := obj(t, obj(t, r.body, "chargeInfo"), "lowCreditAlert"); a["availableCredits"] != 0.0 {
			t.Errorf("lowCreditAlert = %v, want 0 available", a)
		}
		if c, ok := e.sim.Credits("fresh"); !ok || c != 0 {
			t.Errorf("credits = %v, %v; want 0, true", c, ok)
		}
	})
}
