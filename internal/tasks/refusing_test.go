package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/fiberpb"
	"github.com/fibergate/fibergate/internal/storage"
)

// errStoreBusy is what refusingStore answers while it refuses a task.
var errStoreBusy = errors.New("database is locked (SQLITE_BUSY)")

var allEnrichment = storage.Enrichment{WorkEmails: true, PersonalEmails: true, PhoneNumbers: true}

// refusingStore is a store that refuses new tasks on demand: CreateTask fails with
// errStoreBusy, writing nothing, while it is down and for the next failNext calls; after
// lie, the next call that gets through stores the task and still fails (a commit whose
// answer was lost). Every other method passes through.
type refusingStore struct {
	Store
	created chan string // the id of every task CreateTask stored; buffered, never blocks it

	mu       sync.Mutex // guards down, failNext, lie and calls
	down     bool
	failNext int
	lie      bool
	calls    int
}

func newRefusingStore() *refusingStore { return &refusingStore{created: make(chan string, 16)} }

func (s *refusingStore) CreateTask(ctx context.Context, t storage.Task) error {
	s.mu.Lock()
	s.calls++
	refuse := s.down || s.failNext > 0
	if s.failNext > 0 {
		s.failNext--
	}
	lie := s.lie && !refuse
	if lie {
		s.lie = false
	}
	s.mu.Unlock()
	if refuse {
		return fmt.Errorf("create task %s: %w", t.ID, errStoreBusy)
	}
	if err := s.Store.CreateTask(ctx, t); err != nil {
		return err
	}
	select {
	case s.created <- t.ID:
	default:
	}
	if lie {
		return fmt.Errorf("create task %s: %w", t.ID, errStoreBusy)
	}
	return nil
}

// setDown has CreateTask refuse every task (true), or no more (false).
func (s *refusingStore) setDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// failNextCalls has the next n calls of CreateTask refuse their task.
func (s *refusingStore) failNextCalls(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = n
}

// lieOnce has the next call of CreateTask that gets through store its task and fail.
func (s *refusingStore) lieOnce() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lie = true
}

// createCalls is how many times CreateTask was called.
func (s *refusingStore) createCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// logBuffer collects JSON log lines. Safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logged reports whether a line's message starts with prefix and its task_id is id.
func (b *logBuffer) logged(prefix, id string) bool {
	for line := range strings.SplitSeq(b.String(), "\n") {
		var rec struct {
			Msg    string `json:"msg"`
			TaskID string `json:"task_id"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && strings.HasPrefix(rec.Msg, prefix) && rec.TaskID == id {
			return true
		}
	}
	return false
}

// refusingEnv is newEnv with an engine, running with p, that stores tasks through a
// refusingStore and logs to a logBuffer.
func refusingEnv(t *testing.T, cfg fiberfake.Config, p Policy) (*env, *refusingStore, *logBuffer) {
	t.Helper()
	e := newEnv(t, cfg)
	rs, logs := newRefusingStore(), &logBuffer{}
	e.stop()
	e.wrapStore = func(s Store) Store { rs.Store = s; return rs }
	e.logger = slog.New(slog.NewJSONHandler(logs, nil))
	e.startEngine(p)
	return e, rs, logs
}

// startUpstream starts a batch of n people upstream, without tracking it, and returns its
// answer as the service gives it to the caller.
func (e *env) startUpstream(n int) *cdv1.StartBatchResponse {
	e.t.Helper()
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("https://www.linkedin.com/in/person-%d", i)
	}
	resp, err := e.client.Start(testContext(e.t), testKey, fiber.StartRequest{LinkedInURLs: urls})
	if err != nil {
		e.t.Fatal(err)
	}
	return fiberpb.StartResponseFromFiber(resp)
}

// checkFollowedToTheEnd watches the task from the start and checks that it ends SUCCEEDED
// with n results, each once.
func checkFollowedToTheEnd(t *testing.T, e *Engine, id string, n int) {
	t.Helper()
	ups := watchAll(t, e, id, 0)
	if last := ups[len(ups)-1].Task; last.State != storage.StateSucceeded || last.NumResults != n {
		t.Fatalf("final update: %v with %d results, want SUCCEEDED with %d", last.State, last.NumResults, n)
	}
	distinct(t, urlsOf(t, 1, ups), n)
}

// checkNothingPending checks that the engine holds no task it could not store, nor a poller.
func checkNothingPending(t *testing.T, e *Engine) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.unrecorded) != 0 || len(e.pollers) != 0 {
		t.Errorf("the engine still holds %d unrecorded tasks and %d pollers", len(e.unrecorded), len(e.pollers))
	}
}
