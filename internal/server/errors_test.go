package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/server"
)

// panicSecret is in every panic value of panickyService. Nobody registers it as a secret:
// only never printing the panic value keeps it out of logs and answers.
const panicSecret = "sk-panic-secret-0b7e"

// panickyService panics in GetTask and WatchTask with a value that holds panicSecret.
type panickyService struct {
	cdv1.UnimplementedContactDetailsServiceServer
}

func (panickyService) GetTask(context.Context, *cdv1.GetTaskRequest) (*cdv1.GetTaskResponse, error) {
	panic("cannot use key " + panicSecret)
}

func (panickyService) WatchTask(*cdv1.WatchTaskRequest, grpc.ServerStreamingServer[cdv1.WatchTaskResponse]) error {
	panic(errors.New("cannot use key " + panicSecret))
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runServer runs a server of svc on loopback ports until t ends; it returns a client
// connection, the REST address and the JSON log.
func runServer(t *testing.T, svc cdv1.ContactDetailsServiceServer) (*grpc.ClientConn, string, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	srv, err := server.New(server.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Service: svc, Logger: logger, ShutdownTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	type addrs struct{ grpc, http string }
	ready, done := make(chan addrs, 1), make(chan error, 1)
	go func() { done <- srv.Run(ctx, func(g, h net.Addr) { ready <- addrs{g.String(), h.String()} }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("server did not stop within 30s")
		}
	})
	var a addrs
	select {
	case a = <-ready:
	case err := <-done:
		t.Fatalf("server stopped before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not listen within 30s")
	}
	conn, err := grpc.NewClient(a.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, a.http, logs
}

func callContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// oneErrorInfo returns st's ErrorInfo if it has exactly one.
func oneErrorInfo(st *status.Status) *errdetails.ErrorInfo {
	var found []*errdetails.ErrorInfo
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			found = append(found, ei)
		}
	}
	if len(found) != 1 {
		return nil
	}
	return found[0]
}

// logLines returns the JSON log lines whose msg is msg.
func logLines(t *testing.T, logs string, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func TestPanicGetsErrorInfoAndIsLoggedWithoutItsValue(t *testing.T) {
	conn, httpAddr, logs := runServer(t, panickyService{})
	client := cdv1.NewContactDetailsServiceClient(conn)

	_, unaryErr := client.GetTask(callContext(t), &cdv1.GetTaskRequest{TaskId: "t-1"})
	stream, err := client.WatchTask(callContext(t), &cdv1.WatchTaskRequest{TaskId: "t-1"})
	if err == nil {
		_, err = stream.Recv()
	}
	streamErr := err
	for name, err := range map[string]error{"unary": unaryErr, "stream": streamErr} {
		st := status.Convert(err)
		if ei := oneErrorInfo(st); st.Code() != codes.Internal || ei.GetReason() != "INTERNAL" || ei.GetDomain() != "fibergate" {
			t.Errorf("%s panic: %v %v, want INTERNAL with one ErrorInfo INTERNAL", name, st.Code(), st.Details())
		}
		if strings.Contains(st.Message()+st.Proto().String(), panicSecret) {
			t.Errorf("%s panic: the answer holds the panic value: %v", name, st.Proto())
		}
	}

	// Over REST, through the same chain.
	req, err := http.NewRequestWithContext(callContext(t), http.MethodGet, "http://"+httpAddr+"/v1/contact-details/batch/t-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), `"reason":"INTERNAL"`) || strings.Contains(string(body), panicSecret) {
		t.Errorf("REST panic: HTTP %d %s, want 500 with reason INTERNAL and no panic value", resp.StatusCode, body)
	}

	out := logs.String()
	if strings.Contains(out, panicSecret) {
		t.Errorf("the log holds the panic value:\n%s", out)
	}
	panics := logLines(t, out, "handler panicked")
	if len(panics) != 3 {
		t.Fatalf("%d \"handler panicked\" lines, want 3:\n%s", len(panics), out)
	}
	for _, rec := range panics {
		if rec["panic_type"] == nil || rec["method"] == nil {
			t.Errorf("panic line %v lacks panic_type or method", rec)
		}
	}
	// Each panicked call also has its access-log line, with its final code.
	finished := 0
	for _, rec := range logLines(t, out, "finished call") {
		if rec["grpc.code"] == "Internal" && (rec["grpc.method"] == "GetTask" || rec["grpc.method"] == "WatchTask") {
			finished++
		}
	}
	if finished != 3 {
		t.Errorf("%d access-log lines of the panicked calls with code Internal, want 3:\n%s", finished, out)
	}
}

func TestUnknownMethodsGetErrorInfoAndKnownServicesStillWork(t *testing.T) {
	conn, _, _ := runServer(t, panickyService{})
	for _, method := range []string{
		"/fibergate.contactdetails.v1.ContactDetailsService/NoSuchMethod",
		"/no.such.Service/Method",
		"/grpc.health.v1.Health/NoSuchMethod",
	} {
		err := conn.Invoke(callContext(t), method, &emptypb.Empty{}, &emptypb.Empty{})
		st := status.Convert(err)
		ei := oneErrorInfo(st)
		if st.Code() != codes.Unimplemented || ei.GetReason() != "UNIMPLEMENTED_METHOD" || ei.GetMetadata()["method"] != method {
			t.Errorf("%s: %v %v, want UNIMPLEMENTED with one ErrorInfo UNIMPLEMENTED_METHOD naming it", method, st.Code(), st.Details())
		}
	}
	// A method of the service that the implementation leaves out is not unknown: the
	// generated stub answers it, and the error interceptor adds the ErrorInfo.
	_, err := cdv1.NewContactDetailsServiceClient(conn).ListTasks(callContext(t), &cdv1.ListTasksRequest{})
	if st := status.Convert(err); st.Code() != codes.Unimplemented || oneErrorInfo(st) == nil {
		t.Errorf("unimplemented ListTasks: %v %v, want UNIMPLEMENTED with one ErrorInfo", st.Code(), st.Details())
	}
	hc, err := healthpb.NewHealthClient(conn).Check(callContext(t), &healthpb.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health: %v, %v", hc, err)
	}
}
