package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
)

// tasksCLITimeout bounds one run of the client binary in the end-to-end tests.
const tasksCLITimeout = 2 * time.Minute

// tasksRun is one finished run of the client binary.
type tasksRun struct {
	args           []string
	stdout, stderr string
	code           int
}

// tasksCLI runs the client binary with args and vars ("NAME=value") as its whole environment
// besides PATH and HOME, and waits for its exit.
func tasksCLI(t testing.TB, vars []string, args ...string) tasksRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), tasksCLITimeout)
	defer cancel()
	cmd := tasksCommand(ctx, vars, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := tasksRun{args: args, stdout: out.String(), stderr: errOut.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("fibergate %q: %v\nstderr: %s", args, err, errOut.String())
	}
	if ctx.Err() != nil {
		t.Fatalf("fibergate %q did not exit within %v\nstderr: %s", args, tasksCLITimeout, errOut.String())
	}
	return r
}

// tasksCommand is the client binary's command for args with vars as its environment.
func tasksCommand(ctx context.Context, vars []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, cliBin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, vars...)
	return cmd
}

// want checks the exit code and that stderr holds every one of wants; a failed run's stderr
// must be one line.
func (r tasksRun) want(t testing.TB, code int, wants ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("fibergate %q exited %d, want %d\nstdout: %s\nstderr: %s", r.args, r.code, code, r.stdout, r.stderr)
	}
	for _, w := range wants {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("fibergate %q: stderr lacks %q: %q", r.args, w, r.stderr)
		}
	}
	if code != exitOK && strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("fibergate %q: stderr is not one line: %q", r.args, r.stderr)
	}
}

// tasksAddrEnv is the environment pointing the client at st's server.
func tasksAddrEnv(st *stack, more ...string) []string {
	return append([]string{"FIBERGATE_ADDR=" + st.server.GRPCAddr}, more...)
}

// tasksStart starts a batch of n people (slug-0, slug-1, …) on the gRPC server at addr, as
// the caller of token ("" for none), and returns the task id.
func tasksStart(t testing.TB, addr, token, slug string, n int) string {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	req := &cdv1.StartBatchRequest{}
	for i := range n {
		req.PersonDetails = append(req.PersonDetails, &cdv1.PersonDetails{
			LinkedinUrl: &cdv1.LinkedInUrl{Value: fmt.Sprintf("https://www.linkedin.com/in/%s-%d", slug, i)}})
	}
	resp, err := cdv1.NewContactDetailsServiceClient(conn).StartBatch(ctx, req)
	if err != nil {
		t.Fatalf("StartBatch: %v", err)
	}
	return resp.GetOutput().GetTaskId()
}

// tasksLines parses NDJSON, a message of type M per line, strictly: an unknown field fails.
func tasksLines[M proto.Message](t testing.TB, out string) []M {
	t.Helper()
	var ms []M
	for line := range strings.Lines(out) {
		var m M
		m = m.ProtoReflect().Type().New().Interface().(M)
		if err := protojson.Unmarshal([]byte(line), m); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		ms = append(ms, m)
	}
	return ms
}

// tasksClosedAddr is a loopback address nothing listens on.
func tasksClosedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
