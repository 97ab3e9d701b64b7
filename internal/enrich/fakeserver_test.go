package enrich

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// fakeServer is a hand-written ContactDetailsService for the run's tests, served over an
// in-memory connection. Tasks complete at once: a watch sends every result, a page of
// pageSize at a time, then the terminal state. People whose slug starts with "reject-" get
// no result, those with "nodata-" one without data. Starts are idempotent by request id,
// as the server's are.
type fakeServer struct {
	cdv1.UnimplementedContactDetailsServiceServer

	mu       sync.Mutex          // guards the fields below
	tasks    map[string][]string // task id -> URLs
	byReq    map[string]string   // request id -> task id
	starts   []string            // request ids of every StartBatch call, in order
	sent     int                 // starts that started a task
	startErr func(req *cdv1.StartBatchRequest, call int) error
	// hold, when positive, is how many results in all the watches deliver before they
	// stop sending (until the stream's context ends).
	hold     int
	released int
	pageSize int
	final    cdv1.TaskState // the terminal state the watches end with
}

func newFakeServer() *fakeServer {
	return &fakeServer{tasks: map[string][]string{}, byReq: map[string]string{}, pageSize: 7, final: cdv1.TaskState_TASK_STATE_SUCCEEDED}
}

// serve serves f until the test ends and returns a client.
func (f *fakeServer) serve(t *testing.T) cdv1.ContactDetailsServiceClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	cdv1.RegisterContactDetailsServiceServer(srv, f)
	go srv.Serve(lis)
	conn, err := grpc.NewClient("passthrough:///fake",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
	})
	return cdv1.NewContactDetailsServiceClient(conn)
}

func (f *fakeServer) StartBatch(_ context.Context, req *cdv1.StartBatchRequest) (*cdv1.StartBatchResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts = append(f.starts, req.GetRequestId())
	if f.startErr != nil {
		if err := f.startErr(req, len(f.starts)); err != nil {
			return nil, err
		}
	}
	id, ok := f.byReq[req.GetRequestId()]
	if !ok {
		f.sent++
		id = fmt.Sprintf("task-%d", f.sent)
		var urls []string
		for _, p := range req.GetPersonDetails() {
			urls = append(urls, p.GetLinkedinUrl().GetValue())
		}
		f.tasks[id] = urls
		f.byReq[req.GetRequestId()] = id
	}
	n := int32(len(f.tasks[id]))
	return &cdv1.StartBatchResponse{
		Output:     &cdv1.StartBatchOutput{TaskId: id, NumPeopleEnqueued: n},
		ChargeInfo: &cdv1.ChargeInfo{Method: &cdv1.ChargeInfo_ChargedNow{ChargedNow: &cdv1.ChargedNow{CreditsCharged: 5 * float64(n)}}, FiberMethod: "charged-now"},
	}, nil
}

// results are a task's results in arrival order.
func results(urls []string) []*cdv1.PersonResult {
	var out []*cdv1.PersonResult
	for _, u := range urls {
		slug := u[strings.LastIndex(u, "/")+1:]
		if strings.HasPrefix(slug, "reject-") {
			continue
		}
		r := &cdv1.PersonResult{LinkedinUrl: u, Sequence: int32(len(out) + 1)}
		if strings.HasPrefix(slug, "nodata-") {
			r.NoDataFound = true
		} else {
			r.Emails = []*cdv1.Email{{Email: slug + "@acme.example", Type: cdv1.EmailType_EMAIL_TYPE_WORK, Status: cdv1.EmailStatus_EMAIL_STATUS_VALID}}
			r.PhoneNumbers = []*cdv1.PhoneNumber{{Number: "+1 555 0100", Type: cdv1.PhoneType_PHONE_TYPE_MOBILE}}
		}
		out = append(out, r)
	}
	return out
}

func (f *fakeServer) WatchTask(req *cdv1.WatchTaskRequest, stream grpc.ServerStreamingServer[cdv1.WatchTaskResponse]) error {
	f.mu.Lock()
	urls, ok := f.tasks[req.GetTaskId()]
	f.mu.Unlock()
	if !ok {
		return status.Error(codes.NotFound, "task not found")
	}
	all := results(urls)
	pos := 0
	if tok := req.GetResumeToken(); tok != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(tok, req.GetTaskId()+":"))
		if err != nil || n > len(all) {
			return status.Error(codes.InvalidArgument, "bad token")
		}
		pos = n
	}
	for {
		end := min(pos+f.pageSize, len(all))
		f.mu.Lock()
		if f.hold > 0 {
			end = min(end, pos+max(0, f.hold-f.released))
		}
		f.released += end - pos
		f.mu.Unlock()
		if end == pos && pos < len(all) {
			<-stream.Context().Done() // held
			return stream.Context().Err()
		}
		state := cdv1.TaskState_TASK_STATE_RUNNING
		if end == len(all) {
			state = f.final
		}
		msg := &cdv1.WatchTaskResponse{TaskId: req.GetTaskId(), State: state, Results: all[pos:end], ResumeToken: fmt.Sprintf("%s:%d", req.GetTaskId(), end)}
		if err := stream.Send(msg); err != nil {
			return err
		}
		pos = end
		if terminal(state) {
			return nil
		}
	}
}

// startCalls returns the request ids of the StartBatch calls so far.
func (f *fakeServer) startCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.starts...)
}

// statusWith is a status error with an ErrorInfo reason and, if positive, a RetryInfo.
func statusWith(t *testing.T, code codes.Code, reason, msg string, retry time.Duration) error {
	t.Helper()
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: reason, Domain: "fibergate"}}
	if retry > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(retry)})
	}
	st, err := status.New(code, msg).WithDetails(details...)
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}
