package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/fiberfake/fiberfaketest"
	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/tasks"
)

const notRecordedKey = "sk-not-recorded-test-key"

// errBusy is what taskRefusingStore answers while it is down.
var errBusy = errors.New("database is locked (SQLITE_BUSY)")

// taskRefusingStore refuses new tasks while it is down: CreateTask fails with errBusy and
// writes nothing. Every other call passes through.
type taskRefusingStore struct {
	tasks.Store
	created chan string // the id of every task CreateTask stored; buffered, never blocks it

	mu   sync.Mutex // guards down
	down bool
}

func (s *taskRefusingStore) CreateTask(ctx context.Context, t storage.Task) error {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		return fmt.Errorf("create task %s: %w", t.ID, errBusy)
	}
	if err := s.Store.CreateTask(ctx, t); err != nil {
		return err
	}
	select {
	case s.created <- t.ID:
	default:
	}
	return nil
}

func (s *taskRefusingStore) setDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// waitCreated waits until CreateTask has stored task id.
func (s *taskRefusingStore) waitCreated(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	for {
		select {
		case got := <-s.created:
			if got == id {
				return
			}
		case <-ctx.Done():
			t.Fatalf("task %s was not stored once the store took tasks again", id)
		}
	}
}

// refusingStack is a stack on a Fiber simulator whose engine stores tasks through a
// taskRefusingStore.
type refusingStack struct {
	*stack
	sim    *fiberfake.Sim
	tasks  *taskRefusingStore
	logs   *lockedBuffer
	client cdv1.ContactDetailsServiceClient
}

// simConfig is the simulator of the not-recorded tests: every task is done as soon as it is
// started, and its ids are a function of seed.
func simConfig(seed int64) fiberfake.Config {
	return fiberfake.Config{Seed: seed, TaskIDSalt: "not-recorded", PeoplePerSecond: math.Inf(1), Keys: map[string]float64{notRecordedKey: 1e6}}
}

// fiberClient is a Fiber client of the simulator at url, its connections closed when t ends.
func fiberClient(t *testing.T, url string) *fiber.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := fiber.New(url, fiber.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func startRefusingStack(t *testing.T, seed int64) *refusingStack {
	t.Helper()
	sim, url := fiberfaketest.NewServer(t, simConfig(seed))
	fc := fiberClient(t, url)
	ts := &taskRefusingStore{created: make(chan string, 16)}
	logs := &lockedBuffer{}
	st := startStack(t, stackConfig{
		starter: fc, upstream: fc, apiKey: notRecordedKey,
		policy: tasks.Policy{FirstPoll: 5 * time.Millisecond, MinInterval: 5 * time.Millisecond, MaxInterval: 50 * time.Millisecond,
			WatchedMaxInterval: 20 * time.Millisecond, RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond},
		wrap:   func(s tasks.Store) tasks.Store { ts.Store = s; return ts },
		logger: slog.New(slog.NewJSONHandler(logs, nil)),
	})
	return &refusingStack{stack: st, sim: sim, tasks: ts, logs: logs, client: st.dial(t, 1)[0]}
}

func startRequest(requestID string, n int) *cdv1.StartBatchRequest {
	req := &cdv1.StartBatchRequest{RequestId: requestID}
	for i := range n {
		req.PersonDetails = append(req.PersonDetails, &cdv1.PersonDetails{
			LinkedinUrl: &cdv1.LinkedInUrl{Value: fmt.Sprintf("https://www.linkedin.com/in/not-recorded-%d", i)},
		})
	}
	return req
}

// startedTask is the id of the one task the simulator started.
func (s *refusingStack) startedTask(t *testing.T) string {
	t.Helper()
	started := s.sim.StartedTasks()
	if len(started) != 1 {
		t.Fatalf("the simulator started %d tasks, want 1", len(started))
	}
	return started[0].ID
}

// notRecordedAnswer checks that err is INTERNAL with reason, the simulator's task id and a
// record id in its ErrorInfo, and the start's answer for that task among its details, which
// it returns with the record id.
func notRecordedAnswer(t *testing.T, err error, reason, taskID string) (*cdv1.StartBatchResponse, string) {
	t.Helper()
	st := status.Convert(err)
	info := oneErrorInfo(st)
	if st.Code() != codes.Internal || info.GetReason() != reason {
		t.Fatalf("StartBatch: %v %q, %v; want INTERNAL %s", st.Code(), st.Message(), info, reason)
	}
	md := info.GetMetadata()
	if md["task_id"] != taskID || md["record_id"] == "" {
		t.Errorf("ErrorInfo metadata %v, want task_id %s and a record_id", md, taskID)
	}
	var answer *cdv1.StartBatchResponse
	for _, d := range st.Details() {
		if r, ok := d.(*cdv1.StartBatchResponse); ok {
			answer = r
		}
	}
	if answer.GetOutput().GetTaskId() != taskID {
		t.Fatalf("status details %v, want the StartBatchResponse of task %s", st.Details(), taskID)
	}
	return answer, md["record_id"]
}

// checkReconcileRecord checks that the store holds the one operator's record, id, of kind
// for the task of answer, and that the service logged it.
func (s *refusingStack) checkReconcileRecord(t *testing.T, id string, kind storage.AmbiguousKind, answer *cdv1.StartBatchResponse) {
	t.Helper()
	recs, err := s.store.ListAmbiguousStarts(callContext(t), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("%d reconcile records, want 1: %+v", len(recs), recs)
	}
	r := recs[0]
	recorded := &cdv1.StartBatchResponse{}
	if err := proto.Unmarshal(r.Response, recorded); err != nil {
		t.Fatalf("record's response: %v", err)
	}
	taskID := answer.GetOutput().GetTaskId()
	if r.ID != id || r.Kind != kind || r.TaskID != taskID || r.KeyID != fiber.KeyID(notRecordedKey) || len(r.URLs) == 0 || r.Error == "" {
		t.Errorf("reconcile record %+v, want %s of kind %s for task %s", r, id, kind, taskID)
	}
	if diff := cmp.Diff(answer, recorded, protocmp.Transform()); diff != "" {
		t.Errorf("the record's response is not the caller's answer (-answer +recorded):\n%s", diff)
	}
	lines := logLines(t, s.logs.String(), "RECONCILE: fiber started a task that could not be recorded")
	if len(lines) != 1 || lines[0]["record_id"] != id || lines[0]["task_id"] != taskID || lines[0]["kind"] != string(kind) {
		t.Errorf("RECONCILE log lines %v, want one for record %s, task %s, kind %s", lines, id, taskID, kind)
	}
}

// watchToTheEnd watches the task and returns its last message and how many results came,
// checking that no result came twice.
func watchToTheEnd(t *testing.T, c cdv1.ContactDetailsServiceClient, id string) (*cdv1.WatchTaskResponse, int) {
	t.Helper()
	stream, err := c.WatchTask(callContext(t), &cdv1.WatchTaskRequest{TaskId: id})
	if err != nil {
		t.Fatal(err)
	}
	var last *cdv1.WatchTaskResponse
	seen := map[string]bool{}
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("watch %s: %v", id, err)
		}
		for _, r := range m.GetResults() {
			if seen[r.GetLinkedinUrl()] {
				t.Fatalf("result for %s twice", r.GetLinkedinUrl())
			}
			seen[r.GetLinkedinUrl()] = true
		}
		last = m
	}
	return last, len(seen)
}

// TestStartTheStoreRefusesIsAnsweredAndFollowedLater: a batch Fiber started while the store
// refuses tasks is answered INTERNAL TASK_NOT_RECORDED carrying the task id (ErrorInfo
// metadata) and the start's answer (a status detail), recorded for the operator with both,
// and started once; nobody finds the task meanwhile. Once the store takes tasks again, the
// task is stored, GetTask finds it with its start answer, and WatchTask streams it to
// SUCCEEDED.
func TestStartTheStoreRefusesIsAnsweredAndFollowedLater(t *testing.T) {
	s := startRefusingStack(t, 51)
	s.tasks.setDown(true)
	_, err := s.client.StartBatch(callContext(t), startRequest("", 20))
	id := s.startedTask(t)
	answer, recordID := notRecordedAnswer(t, err, "TASK_NOT_RECORDED", id)
	s.checkReconcileRecord(t, recordID, storage.AmbiguousNotRecorded, answer)
	if n := s.sim.Calls(fiberfake.EndpointStart); n != 1 {
		t.Errorf("%d starts upstream, want 1", n)
	}
	if _, err := s.client.GetTask(callContext(t), &cdv1.GetTaskRequest{TaskId: id}); status.Code(err) != codes.NotFound {
		t.Errorf("GetTask before the task is stored: %v, want NOT_FOUND", err)
	}

	s.tasks.setDown(false)
	s.tasks.waitCreated(t, callContext(t), id)
	got, err := s.client.GetTask(callContext(t), &cdv1.GetTaskRequest{TaskId: id})
	if err != nil {
		t.Fatalf("GetTask once stored: %v", err)
	}
	if diff := cmp.Diff(answer.GetChargeInfo(), got.GetTask().GetChargeInfo(), protocmp.Transform()); diff != "" {
		t.Errorf("the stored task's charge is not the start's (-answer +task):\n%s", diff)
	}
	last, results := watchToTheEnd(t, s.client, id)
	if last.GetState() != cdv1.TaskState_TASK_STATE_SUCCEEDED || results != 20 {
		t.Errorf("watch ended %v after %d results, want SUCCEEDED after 20", last.GetState(), results)
	}
	if n := s.sim.Calls(fiberfake.EndpointStart); n != 1 {
		t.Errorf("%d starts upstream, want 1", n)
	}
}

// TestStartTheStoreRefusedIsReplayedForItsRequestID: a retry of a start the store refused,
// with the same request_id, is answered OK with the first answer (the same task) once the
// store is back, and Fiber is not asked again.
func TestStartTheStoreRefusedIsReplayedForItsRequestID(t *testing.T) {
	s := startRefusingStack(t, 52)
	s.tasks.setDown(true)
	const requestID = "0b6c61e4-5b4f-4a52-9a36-2f8f4c7f0d11"
	_, err := s.client.StartBatch(callContext(t), startRequest(requestID, 20))
	id := s.startedTask(t)
	answer, _ := notRecordedAnswer(t, err, "TASK_NOT_RECORDED", id)

	s.tasks.setDown(false)
	s.tasks.waitCreated(t, callContext(t), id)
	again, err := s.client.StartBatch(callContext(t), startRequest(requestID, 20))
	if err != nil {
		t.Fatalf("retry with the same request_id: %v", err)
	}
	if diff := cmp.Diff(answer, again, protocmp.Transform()); diff != "" {
		t.Errorf("the retry's answer is not the first (-first +retry):\n%s", diff)
	}
	if n := s.sim.Calls(fiberfake.EndpointStart); n != 1 {
		t.Errorf("%d starts upstream, want 1", n)
	}
	last, results := watchToTheEnd(t, s.client, id)
	if last.GetState() != cdv1.TaskState_TASK_STATE_SUCCEEDED || results != 20 {
		t.Errorf("watch ended %v after %d results, want SUCCEEDED after 20", last.GetState(), results)
	}
}

// TestStartOfAnIDAnotherPrincipalHoldsIsAConflict: when Fiber answers a start with a task id
// the store holds for another principal's task, the caller hears INTERNAL TASK_ID_CONFLICT
// with the task id, the operator gets a record of kind id_conflict, the held task is left as
// it was and never served to the caller, and a retry with the same request_id is not started
// again.
func TestStartOfAnIDAnotherPrincipalHoldsIsAConflict(t *testing.T) {
	const seed = 53
	// The simulator's ids are a function of its config: a throwaway one tells the first.
	_, url := fiberfaketest.NewServer(t, simConfig(seed))
	first, err := fiberClient(t, url).Start(callContext(t), notRecordedKey, fiber.StartRequest{LinkedInURLs: []string{"https://www.linkedin.com/in/throwaway"}})
	if err != nil {
		t.Fatal(err)
	}
	id := first.TaskID

	s := startRefusingStack(t, seed)
	ctx := callContext(t)
	then := time.Now().Add(-time.Hour)
	// Stored finished from the first write: a running task would be the engine's to follow
	// (its start-up read of unfinished tasks may see it).
	held := storage.Task{ID: id, Owner: "another-principal", KeyID: fiber.KeyID(notRecordedKey), State: storage.StateSucceeded, CreateTime: then, UpdateTime: then, FinishTime: then}
	if err := s.store.CreateTask(ctx, held); err != nil {
		t.Fatal(err)
	}
	result, err := proto.Marshal(&cdv1.PersonResult{Sequence: 1, LinkedinUrl: "https://www.linkedin.com/in/someone-else"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.store.AppendResults(ctx, id, 0, [][]byte{result}, storage.Update{State: storage.StateSucceeded, UpdateTime: then, FinishTime: then}); err != nil {
		t.Fatal(err)
	}
	before, err := s.store.GetTask(ctx, id)
	if err != nil {
		t.Fatal(err)
	}

	const requestID = "5a1d8f0e-3c2b-4e6f-8a9b-0c1d2e3f4a5b"
	_, err = s.client.StartBatch(ctx, startRequest(requestID, 20))
	if got := s.startedTask(t); got != id {
		t.Fatalf("the simulator started %s, want %s as the throwaway one did", got, id)
	}
	answer, recordID := notRecordedAnswer(t, err, "TASK_ID_CONFLICT", id)
	s.checkReconcileRecord(t, recordID, storage.AmbiguousIDConflict, answer)

	if _, err := s.client.GetTask(ctx, &cdv1.GetTaskRequest{TaskId: id}); status.Code(err) != codes.NotFound {
		t.Errorf("GetTask of the held id by the caller: %v, want NOT_FOUND", err)
	}
	if _, err := s.client.StartBatch(ctx, startRequest(requestID, 20)); status.Code(err) != codes.Unknown {
		t.Errorf("retry with the same request_id: %v, want UNKNOWN (the outcome is for an operator)", err)
	}
	if n := s.sim.Calls(fiberfake.EndpointStart); n != 1 {
		t.Errorf("%d starts upstream, want 1", n)
	}
	after, err := s.store.GetTask(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("the held task changed (-before +after):\n%s", diff)
	}
	if n := len(s.sim.Polls(id)); n != 0 {
		t.Errorf("task %s was polled %d times: it is followed", id, n)
	}
}
