package tasks

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/health"
	"github.com/fibergate/fibergate/internal/storage"
)

// errStoreGone is what outageStore answers while it is down.
var errStoreGone = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

// outageStore is a store that cannot be reached while it is down: every call fails with
// errStoreGone, Ping too, and writes nothing.
type outageStore struct {
	Store
	mu   sync.Mutex // guards down
	down bool
}

func (s *outageStore) setDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

func (s *outageStore) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return errStoreGone
	}
	return nil
}

func (s *outageStore) Ping(context.Context) error { return s.err() }

func (s *outageStore) CreateTask(ctx context.Context, t storage.Task) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.CreateTask(ctx, t)
}

func (s *outageStore) GetTask(ctx context.Context, id string) (storage.Task, error) {
	if err := s.err(); err != nil {
		return storage.Task{}, err
	}
	return s.Store.GetTask(ctx, id)
}

func (s *outageStore) ListTasks(ctx context.Context, f storage.ListFilter) ([]storage.Task, *storage.PageKey, error) {
	if err := s.err(); err != nil {
		return nil, nil, err
	}
	return s.Store.ListTasks(ctx, f)
}

func (s *outageStore) ListUnfinished(ctx context.Context) ([]storage.Task, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.ListUnfinished(ctx)
}

func (s *outageStore) AppendResults(ctx context.Context, id string, fromSeq int, results [][]byte, u storage.Update) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.AppendResults(ctx, id, fromSeq, results, u)
}

func (s *outageStore) ReadResults(ctx context.Context, id string, afterSeq, limit int) ([]storage.Result, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.ReadResults(ctx, id, afterSeq, limit)
}

func (s *outageStore) SetCancellation(ctx context.Context, id string, c []byte) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.SetCancellation(ctx, id, c)
}

func (s *outageStore) DeleteTask(ctx context.Context, id string) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.DeleteTask(ctx, id)
}

func (s *outageStore) PurgeFinished(ctx context.Context, before time.Time) (int, error) {
	if err := s.err(); err != nil {
		return 0, err
	}
	return s.Store.PurgeFinished(ctx, before)
}

// guardedFiber fails the test for every poll sent while the monitor says the store is down,
// and counts the polls.
type guardedFiber struct {
	Upstream
	t       *testing.T
	monitor *health.Monitor
	mu      sync.Mutex // guards polls
	polls   int
}

func (g *guardedFiber) Poll(ctx context.Context, key string, req fiber.PollRequest) (*fiber.PollResponse, error) {
	if up, _ := g.monitor.Up(); !up {
		g.t.Errorf("a poll of %s was sent while the store was down", req.TaskID)
	}
	g.mu.Lock()
	g.polls++
	g.mu.Unlock()
	return g.Upstream.Poll(ctx, key, req)
}

func (g *guardedFiber) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.polls
}

// TestStoreOutage: while the store cannot be reached, the task's poller sends no poll and a
// watcher mid-stream ends with ErrStoreUnavailable, as does a new one; once the store answers
// again the poller resumes, the task ends SUCCEEDED, and the watcher resumed from its last
// position gets the rest: every result once.
func TestStoreOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, fiberfake.Config{Seed: 21, PeoplePerSecond: 100})
		e.stop()
		store := &outageStore{}
		monitor := health.New(health.Config{Store: store, Interval: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
		mctx, stopMonitor := context.WithCancel(context.Background())
		monitorDone := make(chan error, 1)
		go func() { monitorDone <- monitor.Run(mctx) }()
		t.Cleanup(func() {
			stopMonitor()
			<-monitorDone
		})
		fiber := &guardedFiber{Upstream: e.client, t: t, monitor: monitor}
		e.client2, e.health = fiber, monitor
		e.wrapStore = func(s Store) Store { store.Store = s; return store }
		e.startEngine(fastPolicy)
		id := e.start(350)

		var mu sync.Mutex // guards ups
		var ups []Update
		watched := make(chan error, 1)
		go func() {
			watched <- e.engine.Watch(testContext(t), "alice", id, "", 0, false, func(u Update) error {
				mu.Lock()
				defer mu.Unlock()
				ups = append(ups, u)
				return nil
			})
		}()
		time.Sleep(1500 * time.Millisecond) // the first polls: about 150 people finished
		synctest.Wait()
		mu.Lock()
		position := 0
		if len(ups) > 0 {
			position = ups[len(ups)-1].Position
		}
		mu.Unlock()
		if position == 0 || position >= 350 {
			t.Fatalf("the watcher is at %d when the store goes down, want mid-stream", position)
		}

		store.setDown(true)
		if err := monitor.Failed(t.Context(), errStoreGone); !errors.Is(err, health.ErrStoreUnavailable) {
			t.Fatalf("the monitor did not find the store down: %v", err)
		}
		if err := <-watched; !errors.Is(err, health.ErrStoreUnavailable) {
			t.Fatalf("the watcher ended with %v, want ErrStoreUnavailable", err)
		}
		err := e.engine.Watch(testContext(t), "alice", id, "", position, false, func(Update) error { return nil })
		if !errors.Is(err, health.ErrStoreUnavailable) {
			t.Errorf("a watch started while the store is down: %v, want ErrStoreUnavailable", err)
		}
		polls := fiber.count()
		time.Sleep(10 * time.Second) // Fiber finishes the task meanwhile
		synctest.Wait()
		if n := fiber.count() - polls; n != 0 {
			t.Errorf("%d polls while the store was down, want none", n)
		}

		store.setDown(false)
		time.Sleep(100 * time.Millisecond) // the monitor's next ping
		synctest.Wait()
		if up, _ := monitor.Up(); !up {
			t.Fatal("the monitor did not find the store back")
		}
		rest := watchAll(t, e.engine, id, position)
		last := rest[len(rest)-1]
		if last.Task.State != storage.StateSucceeded || last.Task.NumResults != 350 {
			t.Fatalf("final update: %+v", last.Task)
		}
		mu.Lock()
		before := urlsOf(t, 1, ups)
		mu.Unlock()
		distinct(t, append(before, urlsOf(t, position+1, rest)...), 350)
	})
}
