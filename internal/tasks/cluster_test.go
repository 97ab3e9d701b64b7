package tasks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/storage/sqlite"
)

// What the lease tests share: replicas (engines with leases) over one store and one
// in-memory lease table, in a synctest bubble.

// fakeLeases keeps leases in memory, timed by package time (the bubble's clock), for the
// store it wraps, whose AppendResults it fences as storagetest.LeaseBackend requires. Safe
// for concurrent use; every method is atomic with respect to the others.
type fakeLeases struct {
	Store
	mu       sync.Mutex // guards leases, refuse, maxTook and appended
	leases   map[string]fakeLease
	refuse   bool // every fenced write fails with storage.ErrLeaseLost
	maxTook  int  // the most tasks one ClaimTasks call returned
	refused  chan string
	appended map[string][]time.Time // by task: when each result was stored, by Seq-1
}

// fakeLease is one task's lease: its owner and when it expires.
type fakeLease struct {
	owner  string
	expiry time.Time
}

func newFakeLeases(s Store) *fakeLeases {
	return &fakeLeases{Store: s, leases: map[string]fakeLease{}, refused: make(chan string, 16), appended: map[string][]time.Time{}}
}

// heldBy reports whether replica holds a live lease on id. Callers hold f.mu.
func (f *fakeLeases) heldBy(id, replica string) bool {
	l := f.leases[id]
	return l.owner == replica && l.expiry.After(time.Now())
}

func (f *fakeLeases) free(id string) bool {
	return !f.leases[id].expiry.After(time.Now())
}

func (f *fakeLeases) ClaimTasks(ctx context.Context, replica string, keyIDs []string, ttl time.Duration, most int) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ts, err := f.Store.ListUnfinished(ctx)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ts, func(a, b storage.Task) int {
		return cmp.Or(a.CreateTime.Compare(b.CreateTime), cmp.Compare(a.ID, b.ID))
	})
	var ids []string
	for _, t := range ts {
		if len(ids) == most {
			break
		}
		if slices.Contains(keyIDs, t.KeyID) && f.free(t.ID) {
			f.leases[t.ID] = fakeLease{replica, time.Now().Add(ttl)}
			ids = append(ids, t.ID)
		}
	}
	f.maxTook = max(f.maxTook, len(ids))
	return ids, nil
}

func (f *fakeLeases) ClaimTask(ctx context.Context, replica, id string, ttl time.Duration) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, err := f.Store.GetTask(ctx, id)
	if err != nil {
		return false, err
	}
	if t.State.Terminal() || (!f.free(id) && f.leases[id].owner != replica) {
		return false, nil
	}
	f.leases[id] = fakeLease{replica, time.Now().Add(ttl)}
	return true, nil
}

func (f *fakeLeases) RenewLeases(_ context.Context, replica string, ids []string, ttl time.Duration) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var kept []string
	for _, id := range ids {
		if f.heldBy(id, replica) {
			f.leases[id] = fakeLease{replica, time.Now().Add(ttl)}
			kept = append(kept, id)
		}
	}
	return kept, nil
}

func (f *fakeLeases) ReleaseLeases(_ context.Context, replica string, ids ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		if f.leases[id].owner == replica {
			delete(f.leases, id)
		}
	}
	return nil
}

// AppendResults is the store's, fenced.
func (f *fakeLeases) AppendResults(ctx context.Context, id string, fromSeq int, results [][]byte, u storage.Update) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u.Fence != "" && (f.refuse || !f.heldBy(id, u.Fence)) {
		select {
		case f.refused <- id:
		default:
		}
		return fmt.Errorf("append results to task %s: %w", id, storage.ErrLeaseLost)
	}
	if err := f.Store.AppendResults(ctx, id, fromSeq, results, u); err != nil {
		return err
	}
	for range results {
		f.appended[id] = append(f.appended[id], time.Now())
	}
	return nil
}

// storedAt returns when each of the task's results was stored, by Seq-1.
func (f *fakeLeases) storedAt(id string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.appended[id])
}

// lease returns the task's lease: its owner ("" for none) and expiry.
func (f *fakeLeases) lease(id string) fakeLease {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leases[id]
}

// refuseFencedWrites has every fenced write fail with storage.ErrLeaseLost.
func (f *fakeLeases) refuseFencedWrites() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuse = true
}

// mostClaimed is the most tasks one ClaimTasks call returned.
func (f *fakeLeases) mostClaimed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxTook
}

// errUnreachable is what a replica's leases answer once it is cut off from the store.
var errUnreachable = errors.New("connection refused")

// replicaLeases is one replica's view of the lease table, which the test can cut off.
type replicaLeases struct {
	*fakeLeases
	mu  sync.Mutex // guards cut
	cut bool
}

func (r *replicaLeases) down() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cut {
		return errUnreachable
	}
	return nil
}

// cutOff makes every lease call of the replica fail from now on.
func (r *replicaLeases) cutOff() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = true
}

func (r *replicaLeases) ClaimTasks(ctx context.Context, replica string, keyIDs []string, ttl time.Duration, max int) ([]string, error) {
	if err := r.down(); err != nil {
		return nil, err
	}
	return r.fakeLeases.ClaimTasks(ctx, replica, keyIDs, ttl, max)
}

func (r *replicaLeases) ClaimTask(ctx context.Context, replica, id string, ttl time.Duration) (bool, error) {
	if err := r.down(); err != nil {
		return false, err
	}
	return r.fakeLeases.ClaimTask(ctx, replica, id, ttl)
}

func (r *replicaLeases) RenewLeases(ctx context.Context, replica string, ids []string, ttl time.Duration) ([]string, error) {
	if err := r.down(); err != nil {
		return nil, err
	}
	return r.fakeLeases.RenewLeases(ctx, replica, ids, ttl)
}

func (r *replicaLeases) ReleaseLeases(ctx context.Context, replica string, ids ...string) error {
	if err := r.down(); err != nil {
		return err
	}
	return r.fakeLeases.ReleaseLeases(ctx, replica, ids...)
}

// pollRecorder records when each task was polled, and whether in the urgent lane.
type pollRecorder struct {
	Upstream
	mu     sync.Mutex // guards at and urgent
	at     map[string][]time.Time
	urgent map[string][]bool
}

func (p *pollRecorder) Poll(ctx context.Context, key string, req fiber.PollRequest) (*fiber.PollResponse, error) {
	p.mu.Lock()
	p.at[req.TaskID] = append(p.at[req.TaskID], time.Now())
	p.urgent[req.TaskID] = append(p.urgent[req.TaskID], budget.Urgent(ctx))
	p.mu.Unlock()
	return p.Upstream.Poll(ctx, key, req)
}

// times returns when the task was polled, in order.
func (p *pollRecorder) times(id string) []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.at[id])
}

// urgency returns whether each of the task's polls was urgent, in order.
func (p *pollRecorder) urgency(id string) []bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.urgent[id])
}

// clusterPolicy polls often in the bubble's time, but less than fastPolicy: the lease tests
// follow tasks for seconds.
var clusterPolicy = Policy{MinInterval: 50 * time.Millisecond, MaxInterval: 500 * time.Millisecond, WatchedMaxInterval: 200 * time.Millisecond, RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond}

// cluster is a simulator and a store shared by replicas.
type cluster struct {
	t      *testing.T
	env    *env // the simulator and its client; its own engine is stopped
	store  *sqlite.Store
	leases *fakeLeases
	// policy is the replicas' poll policy (clusterPolicy unless changed before start).
	policy Policy
	// signals, if set before start, carries the replicas' signals.
	signals Signals
}

// replica is one engine of a cluster.
type replica struct {
	name   string
	engine *Engine
	leases *replicaLeases
	polls  *pollRecorder
	logs   *logBuffer
	stop   func() // stops the engine and waits for Run to return
}

// newCluster runs a Fiber simulator for cfg and a store for replicas, until the test ends.
// Call it inside a synctest bubble.
func newCluster(t *testing.T, cfg fiberfake.Config) *cluster {
	t.Helper()
	e := newEnv(t, cfg)
	e.stop() // and its store: the cluster opens its own
	store, err := sqlite.Open(testContext(t), e.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // after every replica's stop
	return &cluster{t: t, env: e, store: store, leases: newFakeLeases(store), policy: clusterPolicy}
}

// start runs a replica with leases of ttl until its stop or the test's end.
func (c *cluster) start(name string, ttl time.Duration) *replica {
	c.t.Helper()
	r := &replica{
		name:   name,
		leases: &replicaLeases{fakeLeases: c.leases},
		polls:  &pollRecorder{Upstream: c.env.client, at: map[string][]time.Time{}, urgent: map[string][]bool{}},
		logs:   &logBuffer{},
	}
	log := slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("replica", name)
	r.engine = New(Config{
		Store: c.leases, Fiber: r.polls, DefaultAPIKey: testKey, Policy: c.policy, Logger: log,
		Leases: r.leases, Replica: name, LeaseTTL: ttl, Signals: c.signals,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.engine.Run(ctx) }()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				c.t.Errorf("%s: engine.Run: %v", name, err)
			}
		})
	}
	c.t.Cleanup(r.stop)
	return r
}

// track starts a batch of n people upstream and tracks it on r.
func (c *cluster) track(r *replica, n int) string {
	c.t.Helper()
	resp := c.env.startUpstream(n)
	if _, err := r.engine.Track(testContext(c.t), "alice", testKey, resp, allEnrichment); err != nil {
		c.t.Fatal(err)
	}
	return resp.GetOutput().GetTaskId()
}

// storeUnleased starts a batch of n people upstream and stores it as Track would, without
// any replica knowing: a task that no replica holds.
func (c *cluster) storeUnleased(n int) string {
	c.t.Helper()
	resp := c.env.startUpstream(n)
	raw, err := proto.Marshal(resp)
	if err != nil {
		c.t.Fatal(err)
	}
	now := time.Now()
	task := storage.Task{
		ID: resp.GetOutput().GetTaskId(), Owner: "alice", KeyID: fiber.KeyID(testKey), Enrichment: allEnrichment,
		StartResponse: raw, State: storage.StateRunning, CreateTime: now, UpdateTime: now,
		Stats: storage.Stats{TotalPeopleToFetch: n, NumRemaining: n},
	}
	if err := c.store.CreateTask(testContext(c.t), task); err != nil {
		c.t.Fatal(err)
	}
	return task.ID
}
