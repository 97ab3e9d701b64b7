package fiberfake_test

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/fiberfake/fiberfaketest"
)

func TestRouting(t *testing.T) {
	tests := []struct {
		name, method, path string
		body               any
		status             int
	}{
		{"unknown path", http.MethodPost, "/v1/contact-details/batch/search", "{}", http.StatusNotFound},
		{"root", http.MethodGet, "/", nil, http.StatusNotFound},
		{"get start", http.MethodGet, fiberfake.EndpointStart.Path(), nil, http.StatusMethodNotAllowed},
		{"put poll", http.MethodPut, fiberfake.EndpointPoll.Path(), "{}", http.StatusMethodNotAllowed},
		{"large body", http.MethodPost, fiberfake.EndpointStart.Path(), `{"apiKey":"` + strings.Repeat("x", 2<<10) + `"}`, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, fiberfake.Config{MaxBodyBytes: 1 << 10})
				r, err := e.do(tt.method, tt.path, tt.body)
				if err != nil {
					t.Fatal(err)
				}
				if r.status != tt.status {
					t.Fatalf("status %d, want %d; body %s", r.status, tt.status, r.raw)
				}
				if msg, _ := r.body["message"].(string); msg == "" || r.header.Get("Content-Type") != "application/json" {
					t.Errorf("body %s (%s), want a JSON message", r.raw, r.header.Get("Content-Type"))
				}
				if tt.status == http.StatusMethodNotAllowed && r.header.Get("Allow") != http.MethodPost {
					t.Errorf("Allow = %q, want POST", r.header.Get("Allow"))
				}
			})
		})
	}
}

func TestKeys(t *testing.T) {
	tests := []struct {
		name   string
		keys   map[string]float64
		key    string
		status int
	}{
		{"nil keys accept the demo key", nil, fiberfake.DemoAPIKey, http.StatusOK},
		{"empty keys accept nothing", map[string]float64{}, fiberfake.DemoAPIKey, http.StatusUnauthorized},
		{"given keys replace the demo key", map[string]float64{"k": 10}, fiberfake.DemoAPIKey, http.StatusUnauthorized},
		{"given key", map[string]float64{"k": 10}, "k", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, fiberfake.Config{Keys: tt.keys})
				if r := e.call(fiberfake.EndpointStart, startBody(tt.key, "https://www.linkedin.com/in/a")); r.status != tt.status {
					t.Errorf("status %d, want %d", r.status, tt.status)
				}
			})
		})
	}
}

// TestDeterminism runs the same calls against two simulators with the same
// seed and task id salt, each in a synctest bubble of its own so at the same
// times, and expects identical bytes; another seed must differ.
func TestDeterminism(t *testing.T) {
	run := func(seed int64) (bodies [][]byte) {
		synctest.Test(t, func(t *testing.T) {
			e := newEnv(t, fiberfake.Config{Seed: seed, TaskIDSalt: "determinism", NoDataRate: 0.3, RejectRate: 0.2, FailRate: 0.1, PeoplePerSecond: 100})
			for round := range 3 {
				r := e.call(fiberfake.EndpointStart, startBody(fiberfake.DemoAPIKey, profiles(fmt.Sprint("r", round), 40)...)).mustOK(t)
				bodies = append(bodies, r.raw)
			}
			time.Sleep(250 * time.Millisecond)
			for _, task := range e.sim.StartedTasks() {
				r := e.call(fiberfake.EndpointPoll, map[string]any{"apiKey": fiberfake.DemoAPIKey, "taskId": task.ID, "take": 7}).mustOK(t)
				bodies = append(bodies, r.raw)
			}
		})
		return bodies
	}
	a, b, c := run(42), run(42), run(43)
	if d := cmp.Diff(a, b); d != "" {
		t.Errorf("same seed, different answers (-first +second):\n%s", d)
	}
	if bytes.Equal(a[0], c[0]) || bytes.Equal(a[3], c[3]) {
		t.Error("another seed gave the same answers")
	}
}

func TestConcurrentCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{PeoplePerSecond: 1000, Limits: fiberfake.Limits{Start: fiberfake.Rate{N: -1}, Poll: fiberfake.Rate{N: -1}}})
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				r, err := e.do(http.MethodPost, fiberfake.EndpointStart.Path(), startBody(fiberfake.DemoAPIKey, profiles(fmt.Sprint("w", i), 20)...))
				if err != nil || r.status != http.StatusOK {
					t.Errorf("start %d: %v %d", i, err, r.status)
					return
				}
				id := r.body["output"].(map[string]any)["taskId"]
				for range 5 {
					time.Sleep(5 * time.Millisecond)
					if r, err := e.do(http.MethodPost, fiberfake.EndpointPoll.Path(), map[string]any{"apiKey": fiberfake.DemoAPIKey, "taskId": id}); err != nil || r.status != http.StatusOK {
						t.Errorf("poll %d: %v %d", i, err, r.status)
					}
				}
			})
		}
		wg.Wait()
		if got := e.sim.Stats(); got.TasksStarted != 8 || got.Endpoints[fiberfake.EndpointPoll].OK != 40 {
			t.Errorf("stats = %+v", got)
		}
	})
}

// TestInstantProgressOnTheWallClock serves a simulator on loopback, outside any
// synctest bubble: at infinite speed a task is done as soon as it starts.
func TestInstantProgressOnTheWallClock(t *testing.T) {
	sim, url := fiberfaketest.NewServer(t, fiberfake.Config{PeoplePerSecond: math.Inf(1)})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	e := &env{t: t, sim: sim, url: url, client: &http.Client{Transport: tr}}
	id := e.start(profiles("p", 5)...)
	if out := e.poll(id, nil, 0); out["done"] != true || len(list(t, out, "pageResults")) != 5 {
		t.Errorf("with infinite speed: done %v, %d results", out["done"], len(list(t, out, "pageResults")))
	}
}
