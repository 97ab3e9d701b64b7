package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/apierr"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/fiberfake/fiberfaketest"
	"github.com/fibergate/fibergate/internal/health"
	"github.com/fibergate/fibergate/internal/service"
	"github.com/fibergate/fibergate/internal/storage"
	"github.com/fibergate/fibergate/internal/storage/sqlite"
	"github.com/fibergate/fibergate/internal/tasks"
)

// errUnreachable is what outageStore answers while it is down: a lost connection, as a
// database server that went away gives.
var errUnreachable = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

// outageStore is the stack's SQLite store as the engine and the service's idempotency see it,
// unreachable while down: every call fails with errUnreachable and writes nothing, Ping too.
type outageStore struct {
	*sqlite.Store
	appendRefused chan struct{} // gets a value (without blocking) for each AppendResults refused

	mu   sync.Mutex // guards down
	down bool
}

var (
	_ tasks.Store          = (*outageStore)(nil)
	_ service.RequestStore = (*outageStore)(nil)
	_ health.Pinger        = (*outageStore)(nil)
)

func (s *outageStore) setDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

func (s *outageStore) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return errUnreachable
	}
	return nil
}

func (s *outageStore) Ping(ctx context.Context) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Ping(ctx)
}

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
		select {
		case s.appendRefused <- struct{}{}:
		default:
		}
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

func (s *outageStore) ClaimRequest(ctx context.Context, r storage.Request, lease time.Duration) (storage.Request, bool, error) {
	if err := s.err(); err != nil {
		return storage.Request{}, false, err
	}
	return s.Store.ClaimRequest(ctx, r, lease)
}

func (s *outageStore) RenewRequest(ctx context.Context, key, owner string, lease time.Duration) (bool, error) {
	if err := s.err(); err != nil {
		return false, err
	}
	return s.Store.RenewRequest(ctx, key, owner, lease)
}

func (s *outageStore) ResolveRequest(ctx context.Context, key string, now time.Time) (storage.Request, error) {
	if err := s.err(); err != nil {
		return storage.Request{}, err
	}
	return s.Store.ResolveRequest(ctx, key, now)
}

func (s *outageStore) FinishRequest(ctx context.Context, key string, state storage.RequestState, response []byte) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.FinishRequest(ctx, key, state, response)
}

func (s *outageStore) ReleaseRequest(ctx context.Context, key string) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.ReleaseRequest(ctx, key)
}

func (s *outageStore) PurgeRequests(ctx context.Context, before time.Time) (int, error) {
	if err := s.err(); err != nil {
		return 0, err
	}
	return s.Store.PurgeRequests(ctx, before)
}

// gatedFiber holds every poll until the test lets it through (a token, or open closed), and
// fails the test for a poll that arrives while the monitor says the store is down.
type gatedFiber struct {
	tasks.Upstream
	t       *testing.T
	monitor *health.Monitor
	arrived chan struct{} // gets a value (without blocking) for each poll that arrives
	tokens  chan struct{} // each lets one poll through
	open    chan struct{} // closed: every poll goes through
}

func (g *gatedFiber) Poll(ctx context.Context, key string, req fiber.PollRequest) (*fiber.PollResponse, error) {
	if up, _ := g.monitor.Up(); !up {
		g.t.Errorf("a poll of %s was sent while the store was down", req.TaskID)
	}
	select {
	case g.arrived <- struct{}{}:
	default:
	}
	select {
	case <-g.tokens:
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Upstream.Poll(ctx, key, req)
}

// storeUnavailable checks that err is UNAVAILABLE with reason STORE_UNAVAILABLE and a
// RetryInfo.
func storeUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	st := status.Convert(err)
	retry := false
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.RetryInfo); ok {
			retry = true
		}
	}
	if st.Code() != codes.Unavailable || oneErrorInfo(st).GetReason() != apierr.ReasonStoreUnavailable || !retry {
		t.Fatalf("%s: %v %q %v, want UNAVAILABLE %s with a RetryInfo", what, st.Code(), st.Message(), st.Details(), apierr.ReasonStoreUnavailable)
	}
}

// waitServing waits until the health service reports want for service.
func waitServing(t *testing.T, hc healthpb.HealthClient, service string, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		t.Fatal(err)
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("health of %q never became %v: %v", service, want, err)
		}
		if resp.GetStatus() == want {
			return
		}
	}
}

// TestStoreOutage: while the store cannot be reached, the service is not ready (its health
// NOT_SERVING, GET /healthz 503) but alive (the server's "" SERVING, GET /livez 200), a watch
// mid-stream ends UNAVAILABLE STORE_UNAVAILABLE, and so do new watches and starts, over gRPC
// and REST (503, Retry-After), without a start reaching Fiber or a poll being sent. A poll
// answered as the store went down is dropped. Once the store answers again, the service is
// ready, the watch resumes from its token with every result once, and starts work.
func TestStoreOutage(t *testing.T) {
	sim, url := fiberfaketest.NewServer(t, fiberfake.Config{Seed: 61, PeoplePerSecond: math.Inf(1), Keys: map[string]float64{notRecordedKey: 1e6}})
	fc := fiberClient(t, url)
	store := &outageStore{appendRefused: make(chan struct{}, 1)}
	monitor := health.New(health.Config{Store: store, Interval: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	upstream := &gatedFiber{Upstream: fc, t: t, monitor: monitor, arrived: make(chan struct{}, 8), tokens: make(chan struct{}, 1), open: make(chan struct{})}
	st := startStack(t, stackConfig{
		starter: fc, upstream: upstream, apiKey: notRecordedKey,
		policy: tasks.Policy{FirstPoll: time.Millisecond, MinInterval: time.Millisecond, RetryMin: 10 * time.Millisecond, RetryMax: time.Hour},
		wrap:   func(s tasks.Store) tasks.Store { store.Store = s.(*sqlite.Store); return store },
		wrapRequests: func(s service.RequestStore) service.RequestStore {
			return store // the same *sqlite.Store as the engine's
		},
		health: monitor,
	})
	client := st.dial(t, 1)[0]
	conn := dialGRPC(t, st.grpcAddr)
	hc := healthpb.NewHealthClient(conn)
	serviceName := cdv1.ContactDetailsService_ServiceDesc.ServiceName
	httpURL := "http://" + st.httpAddr

	started, err := client.StartBatch(callContext(t), startRequest("0f1d7c52-6a80-4c6b-9a54-5b7e0c3b6d01", 150))
	if err != nil {
		t.Fatal(err)
	}
	id := started.GetOutput().GetTaskId()

	// Watch until the first page (100 results) is in; the second page's poll waits at the gate.
	ctx := callContext(t)
	stream, err := client.WatchTask(ctx, &cdv1.WatchTaskRequest{TaskId: id})
	if err != nil {
		t.Fatal(err)
	}
	upstream.tokens <- struct{}{}
	var got []*cdv1.PersonResult
	token := ""
	for len(got) < 100 {
		m, err := stream.Recv()
		if err != nil {
			t.Fatalf("watch before the outage: %v", err)
		}
		got = append(got, m.GetResults()...)
		token = m.GetResumeToken()
	}
	if len(got) != 100 {
		t.Fatalf("%d results before the outage, want the first page's 100", len(got))
	}
	for range 2 { // the first page's poll, and the second's, now waiting at the gate
		select {
		case <-upstream.arrived:
		case <-ctx.Done():
			t.Fatal("the second page's poll did not come")
		}
	}

	store.setDown(true)
	waitServing(t, hc, serviceName, healthpb.HealthCheckResponse_NOT_SERVING)
	if resp, err := hc.Check(callContext(t), &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("liveness (health of \"\") while the store is down: %v, %v; want SERVING", resp.GetStatus(), err)
	}
	if code, _, body := restDo(t, http.MethodGet, httpURL+"/healthz", "", nil); code != http.StatusServiceUnavailable {
		t.Errorf("GET /healthz while the store is down: HTTP %d %s, want 503", code, body)
	}
	if code, _, body := restDo(t, http.MethodGet, httpURL+"/livez", "", nil); code != http.StatusOK {
		t.Errorf("GET /livez while the store is down: HTTP %d %s, want 200", code, body)
	}

	_, err = stream.Recv()
	storeUnavailable(t, "the watch mid-stream", err)
	resumed, err := client.WatchTask(callContext(t), &cdv1.WatchTaskRequest{TaskId: id, ResumeToken: token})
	if err == nil {
		_, err = resumed.Recv()
	}
	storeUnavailable(t, "a watch resumed while the store is down", err)
	_, err = client.StartBatch(callContext(t), startRequest("", 1))
	storeUnavailable(t, "StartBatch while the store is down", err)
	_, err = client.StartBatch(callContext(t), startRequest("9a0b6f3e-2c41-4d7e-8f15-3e6a1c2b7d90", 1))
	storeUnavailable(t, "StartBatch with a request id while the store is down", err)
	code, header, body := restDo(t, http.MethodPost, httpURL+"/v1/contact-details/batch/start", startBody, nil)
	if code != http.StatusServiceUnavailable || header.Get("Retry-After") != "1" {
		t.Errorf("REST start while the store is down: HTTP %d, Retry-After %q: %s; want 503 with Retry-After 1", code, header.Get("Retry-After"), body)
	}
	if n := len(sim.StartedTasks()); n != 1 {
		t.Errorf("the simulator started %d tasks, want only the one before the outage", n)
	}

	// The poll waiting at the gate was sent before the outage: its answer cannot be stored.
	upstream.tokens <- struct{}{}
	select {
	case <-store.appendRefused:
	case <-callContext(t).Done():
		t.Fatal("the poll answered during the outage was not refused by the store")
	}

	store.setDown(false)
	waitServing(t, hc, serviceName, healthpb.HealthCheckResponse_SERVING)
	if code, _, body := restDo(t, http.MethodGet, httpURL+"/healthz", "", nil); code != http.StatusOK {
		t.Errorf("GET /healthz once the store is back: HTTP %d %s, want 200", code, body)
	}
	close(upstream.open)

	rest, err := client.WatchTask(callContext(t), &cdv1.WatchTaskRequest{TaskId: id, ResumeToken: token})
	if err != nil {
		t.Fatal(err)
	}
	var last *cdv1.WatchTaskResponse
	for {
		m, err := rest.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the resumed watch: %v", err)
		}
		got = append(got, m.GetResults()...)
		last = m
	}
	if last.GetState() != cdv1.TaskState_TASK_STATE_SUCCEEDED {
		t.Errorf("the resumed watch ended %v, want SUCCEEDED", last.GetState())
	}
	if len(got) != 150 {
		t.Errorf("%d results in all, want 150", len(got))
	}
	for i, r := range got {
		if want := int32(i + 1); r.GetSequence() != want {
			t.Fatalf("result %d has sequence %d, want %d: a gap or a duplicate", i, r.GetSequence(), want)
		}
	}

	if _, err := client.StartBatch(callContext(t), startRequest("9a0b6f3e-2c41-4d7e-8f15-3e6a1c2b7d90", 1)); err != nil {
		t.Errorf("StartBatch once the store is back: %v", err)
	}
	if n := len(sim.StartedTasks()); n != 2 {
		t.Errorf("the simulator started %d tasks, want 2", n)
	}
}
