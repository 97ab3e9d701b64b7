package tasks

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/fiberfake/fiberfaketest"
	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/storage/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testKey = "sk-tasks-test-key"

// fastPolicy scales the poll policy down so tasks finish in well under a second of the
// bubble's time.
var fastPolicy = Policy{MinInterval: 2 * time.Millisecond, MaxInterval: 100 * time.Millisecond, WatchedMaxInterval: 20 * time.Millisecond, RetryMin: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond}

type env struct {
	t      *testing.T
	sim    *fiberfake.Sim
	client *fiber.Client
	store  *sqlite.Store
	path   string
	engine *Engine
	// client2, if set, is the engine's upstream instead of client.
	client2 Upstream
	// wrapStore, if set, wraps the store the engine uses (the env's store stays unwrapped).
	wrapStore func(Store) Store
	// retention, if set, is the engine's Config.Retention.
	retention time.Duration
	// logger, if set, is the engine's Config.Logger.
	logger *slog.Logger
	// health, if set, is the engine's Config.Health.
	health StoreHealth
	stop   func() // stops the engine and waits for Run to return
}

// newEnv runs a Fiber simulator for cfg, an engine and its store, until the test ends. Call
// it inside a synctest bubble: the simulator is served over in-memory connections, and the
// engine and the simulator both tell time by the bubble's clock, which moves only when
// everything in the bubble waits, so polling is a deterministic function of simulated time.
func newEnv(t *testing.T, cfg fiberfake.Config) *env {
	t.Helper()
	if cfg.Keys == nil {
		cfg.Keys = map[string]float64{testKey: 1e9}
	}
	if cfg.Limits.Poll.N == 0 {
		cfg.Limits.Poll = fiberfake.Rate{N: 1 << 30, Per: time.Minute}
	}
	sim, hc := fiberfaketest.NewPipeServer(t, cfg)
	client, err := fiber.New(fiberfaketest.PipeURL, fiber.WithHTTPClient(hc), fiber.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, sim: sim, client: client, path: filepath.Join(t.TempDir(), "tasks.db")}
	e.startEngine(fastPolicy)
	return e
}

// startEngine opens the store and runs a new engine on it until stop or the test's end.
func (e *env) startEngine(p Policy) {
	e.t.Helper()
	store, err := sqlite.Open(testContext(e.t), e.path)
	if err != nil {
		e.t.Fatal(err)
	}
	e.store = store
	var up Upstream = e.client
	if e.client2 != nil {
		up = e.client2
	}
	var engineStore Store = store
	if e.wrapStore != nil {
		engineStore = e.wrapStore(store)
	}
	cfg := Config{Store: engineStore, Fiber: up, DefaultAPIKey: testKey, Policy: p, Retention: e.retention, Logger: e.logger, Health: e.health}
	e.engine = New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.engine.Run(ctx) }()
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("engine.Run: %v", err)
			}
			store.Close()
		})
	}
	e.t.Cleanup(e.stop)
}

// start starts a batch of n distinct people upstream and tracks it.
func (e *env) start(n int) string {
	e.t.Helper()
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("https://www.linkedin.com/in/person-%d", i)
	}
	resp, err := e.client.Start(testContext(e.t), testKey, fiber.StartRequest{LinkedInURLs: urls})
	if err != nil {
		e.t.Fatal(err)
	}
	out := &cdv1.StartBatchResponse{Output: &cdv1.StartBatchOutput{TaskId: resp.TaskID, NumPeopleEnqueued: int32(resp.NumPeopleEnqueued)}}
	if _, err := e.engine.Track(testContext(e.t), "alice", testKey, out, storage.Enrichment{WorkEmails: true, PersonalEmails: true, PhoneNumbers: true}); err != nil {
		e.t.Fatal(err)
	}
	return resp.TaskID
}

// waitFinished blocks until the task is terminal, without watching it.
func (e *env) waitFinished(id string) storage.Task {
	e.t.Helper()
	ctx := testContext(e.t)
	for {
		changed, _ := e.engine.hub.latest(id)
		t, err := e.store.GetTask(ctx, id)
		if err != nil {
			e.t.Fatal(err)
		}
		if t.State.Terminal() {
			return t
		}
		select {
		case <-changed:
		case <-ctx.Done():
			e.t.Fatalf("task %s did not finish: %+v", id, t)
		}
	}
}

// watchAll watches id from afterSeq to the end and returns the updates received.
func watchAll(t testing.TB, e *Engine, id string, afterSeq int) []Update {
	t.Helper()
	var ups []Update
	err := e.Watch(testContext(t), "alice", id, "", afterSeq, false, func(u Update) error {
		ups = append(ups, u)
		return nil
	})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	return ups
}

// urlsOf lists the results' URLs in order, checking their sequence numbers are gap-free from
// first.
func urlsOf(t testing.TB, first int, ups []Update) []string {
	t.Helper()
	var out []string
	next := first
	for _, u := range ups {
		for _, r := range u.Results {
			if int(r.GetSequence()) != next {
				t.Fatalf("result sequence %d, want %d", r.GetSequence(), next)
			}
			next++
			out = append(out, r.GetLinkedinUrl())
		}
	}
	return out
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func distinct(t testing.TB, urls []string, want int) {
	t.Helper()
	seen := map[string]bool{}
	for _, u := range urls {
		if seen[u] {
			t.Fatalf("result for %s twice", u)
		}
		seen[u] = true
	}
	if len(seen) != want {
		t.Fatalf("%d distinct results, want %d", len(seen), want)
	}
}

func fiberStart(n int) fiber.StartRequest {
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("https://www.linkedin.com/in/adopted-%d", i)
	}
	return fiber.StartRequest{LinkedInURLs: urls}
}

func watchAllAs(t testing.TB, e *Engine, owner, id, key string) []Update {
	t.Helper()
	var ups []Update
	if err := e.Watch(testContext(t), owner, id, key, 0, false, func(u Update) error {
		ups = append(ups, u)
		return nil
	}); err != nil {
		t.Fatalf("watch: %v", err)
	}
	return ups
}

// pollCounter counts polls per task.
type pollCounter struct {
	Upstream
	mu    sync.Mutex // guards calls
	calls map[string]int
}

func (c *pollCounter) Poll(ctx context.Context, key string, req fiber.PollRequest) (*fiber.PollResponse, error) {
	c.mu.Lock()
	c.calls[req.TaskID]++
	c.mu.Unlock()
	return c.Upstream.Poll(ctx, key, req)
}

func (c *pollCounter) get(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}

// waitAll blocks until every task in ids is finished, without watching them.
func (e *env) waitAll(ids ...string) {
	e.t.Helper()
	for _, id := range ids {
		e.waitFinished(id)
	}
}
