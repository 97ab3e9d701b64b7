package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/server"
)

// slowService answers StartBatch, and the second message of WatchTask, hold after the call
// starts: longer than the REST read timeout of the tests that use it.
type slowService struct {
	cdv1.UnimplementedContactDetailsServiceServer
	hold time.Duration
}

func (s slowService) StartBatch(ctx context.Context, req *cdv1.StartBatchRequest) (*cdv1.StartBatchResponse, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(s.hold):
	}
	return &cdv1.StartBatchResponse{Output: &cdv1.StartBatchOutput{TaskId: "t-1", NumPeopleEnqueued: int32(len(req.GetPersonDetails()))}}, nil
}

func (s slowService) WatchTask(req *cdv1.WatchTaskRequest, stream grpc.ServerStreamingServer[cdv1.WatchTaskResponse]) error {
	if err := stream.Send(&cdv1.WatchTaskResponse{TaskId: req.GetTaskId(), State: cdv1.TaskState_TASK_STATE_RUNNING}); err != nil {
		return err
	}
	select {
	case <-stream.Context().Done():
		return stream.Context().Err()
	case <-time.After(s.hold):
	}
	return stream.Send(&cdv1.WatchTaskResponse{TaskId: req.GetTaskId(), State: cdv1.TaskState_TASK_STATE_SUCCEEDED})
}

// serve runs a server of cfg (with loopback addresses, a logger and a short graceful stop
// filled in) until t ends, and returns its gRPC and REST addresses.
func serve(t *testing.T, cfg server.Config) (grpcAddr, httpAddr string) {
	t.Helper()
	cfg.GRPCAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.ShutdownTimeout = time.Second
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan [2]string, 1), make(chan error, 1)
	go func() { done <- srv.Run(ctx, func(g, h net.Addr) { ready <- [2]string{g.String(), h.String()} }) }()
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
	select {
	case a := <-ready:
		return a[0], a[1]
	case err := <-done:
		t.Fatalf("server stopped before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not listen within 30s")
	}
	return "", ""
}

func dialGRPC(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

const startBody = `{"personDetails":[{"linkedinUrl":{"value":"https://www.linkedin.com/in/jake"}}]}`

// restDo sends a REST request and returns the status, headers and body.
func restDo(t *testing.T, method, url, body string, header http.Header) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(callContext(t), method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// TestRESTReadTimeout: a body that does not arrive within ReadTimeout is answered 408 and its
// connection closed; a call that lasts longer than ReadTimeout once its request has arrived,
// unary or streamed, is not cut.
func TestRESTReadTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	_, httpAddr := serve(t, server.Config{Service: slowService{hold: 5 * timeout}, ReadTimeout: timeout})

	t.Run("slow body", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", httpAddr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
			t.Fatal(err)
		}
		// One byte of the body, and then nothing.
		if _, err := io.WriteString(conn, "POST /v1/contact-details/batch/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 80\r\n\r\n{"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("no answer to a slow body: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		var st struct {
			Code    codes.Code
			Details []struct{ Reason string }
		}
		if err := json.Unmarshal(body, &st); err != nil || resp.StatusCode != http.StatusRequestTimeout ||
			st.Code != codes.DeadlineExceeded || len(st.Details) == 0 || st.Details[0].Reason != "REQUEST_TIMEOUT" {
			t.Errorf("HTTP %d %s, want 408 DEADLINE_EXCEEDED REQUEST_TIMEOUT", resp.StatusCode, body)
		}
		// The server then closes the connection (within the test's 30s deadline).
		if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
			t.Errorf("after the answer: %q, %v; want the connection closed", rest, err)
		}
	})

	t.Run("long unary call", func(t *testing.T) {
		code, _, body := restDo(t, http.MethodPost, "http://"+httpAddr+"/v1/contact-details/batch/start", startBody, http.Header{"Content-Type": {"application/json"}})
		if code != http.StatusOK || !bytes.Contains(body, []byte(`"taskId":"t-1"`)) {
			t.Errorf("StartBatch answered after the read timeout: HTTP %d %s", code, body)
		}
	})

	t.Run("long watch", func(t *testing.T) {
		code, _, body := restDo(t, http.MethodGet, "http://"+httpAddr+"/v1/contact-details/batch/t-1:watch", "", nil)
		if code != http.StatusOK || !bytes.Contains(body, []byte("TASK_STATE_RUNNING")) || !bytes.Contains(body, []byte("TASK_STATE_SUCCEEDED")) {
			t.Errorf("a watch lasting past the read timeout: HTTP %d %s", code, body)
		}
	})
}

// TestHeaderLimitsMatch: headers over MaxHeaderBytes are refused on both ports before any
// handler runs: HTTP 431 over REST, INTERNAL (a reset stream) over gRPC.
func TestHeaderLimitsMatch(t *testing.T) {
	const limit = 16 << 10
	grpcAddr, httpAddr := serve(t, server.Config{Service: slowService{}, MaxHeaderBytes: limit})
	hc := healthpb.NewHealthClient(dialGRPC(t, grpcAddr))
	health := func(ctx context.Context, value string) error {
		_, err := hc.Check(metadata.AppendToOutgoingContext(ctx, "x-padding", value), &healthpb.HealthCheckRequest{})
		return err
	}
	for _, tt := range []struct {
		size     int
		grpcCode codes.Code
		http     int
	}{
		{limit / 2, codes.OK, http.StatusOK},
		{2 * limit, codes.Internal, http.StatusRequestHeaderFieldsTooLarge},
	} {
		value := strings.Repeat("v", tt.size)
		if err := health(callContext(t), value); status.Code(err) != tt.grpcCode {
			t.Errorf("%d bytes of gRPC metadata: %v, want %v", tt.size, err, tt.grpcCode)
		}
		if code := getWithHeader(t, httpAddr, "/healthz", "X-Padding: "+value); code != tt.http {
			t.Errorf("%d bytes of REST headers: HTTP %d, want %d", tt.size, code, tt.http)
		}
	}
}

// getWithHeader sends GET path with the header line to addr and returns the answer's status.
// The request is written while the answer is read: a server refusing the headers answers and
// hangs up before it has read them all.
func getWithHeader(t *testing.T, addr, path, header string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	go io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: x\r\n"+header+"\r\nConnection: close\r\n\r\n") // fails once the server hangs up
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s with a %d-byte header: %v", path, len(header), err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestStreamsPerConnection: a connection's calls beyond MaxStreamsPerConn wait for a free
// stream; other connections are not held up.
func TestStreamsPerConnection(t *testing.T) {
	grpcAddr, _ := serve(t, server.Config{Service: slowService{hold: time.Hour}, MaxStreamsPerConn: 2})
	client := cdv1.NewContactDetailsServiceClient(dialGRPC(t, grpcAddr))
	open := func(ctx context.Context, c cdv1.ContactDetailsServiceClient) error {
		s, err := c.WatchTask(ctx, &cdv1.WatchTaskRequest{TaskId: "t-1"})
		if err == nil {
			_, err = s.Recv()
		}
		return err
	}
	var cancels []context.CancelFunc
	for range 2 {
		ctx, cancel := context.WithCancel(callContext(t))
		cancels = append(cancels, cancel)
		if err := open(ctx, client); err != nil {
			t.Fatal(err)
		}
	}
	// The third waits; it can only end by its deadline.
	ctx, cancel := context.WithTimeout(callContext(t), 300*time.Millisecond)
	defer cancel()
	if err := open(ctx, client); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("a third stream on a connection allowing 2: %v, want it to wait (DEADLINE_EXCEEDED)", err)
	}
	if err := open(callContext(t), cdv1.NewContactDetailsServiceClient(dialGRPC(t, grpcAddr))); err != nil {
		t.Errorf("a stream on another connection: %v", err)
	}
	cancels[0]()
	if err := open(callContext(t), client); err != nil {
		t.Errorf("a stream once one of the two ended: %v", err)
	}
	cancels[1]()
}

// TestGzipRequests: a gzip-compressed request is served; one that inflates past
// MaxBodyBytes is refused with RESOURCE_EXHAUSTED.
func TestGzipRequests(t *testing.T) {
	grpcAddr, _ := serve(t, server.Config{Service: slowService{}, MaxBodyBytes: 1 << 20})
	client := cdv1.NewContactDetailsServiceClient(dialGRPC(t, grpcAddr))
	person := []*cdv1.PersonDetails{{LinkedinUrl: &cdv1.LinkedInUrl{Value: "https://www.linkedin.com/in/jake"}}}
	resp, err := client.StartBatch(callContext(t), &cdv1.StartBatchRequest{PersonDetails: person}, grpc.UseCompressor(gzip.Name))
	if err != nil || resp.GetOutput().GetTaskId() != "t-1" {
		t.Fatalf("a gzip StartBatch: %v, %v", resp, err)
	}
	// 4 MiB of one byte: about 4 KiB compressed.
	bomb := &cdv1.StartBatchRequest{PersonDetails: person, ApiKey: strings.Repeat("k", 4<<20)}
	_, err = client.StartBatch(callContext(t), bomb, grpc.UseCompressor(gzip.Name))
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "after decompression") {
		t.Errorf("a gzip StartBatch inflating to 4 MiB: %v, want RESOURCE_EXHAUSTED after decompression", err)
	}
}
