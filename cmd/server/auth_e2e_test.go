package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/auth"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

// The callers of the auth tests. The tokens are distinctive so that a leak is easy to grep.
const (
	aliceToken = "tok-alice-7d41c9e2b8f05a63e1"
	bobToken   = "tok-bob-2e86f1a4c9d3b750f4"
)

// writeTokensFile writes a -tokens-file giving each principal its token and returns its path.
func writeTokensFile(t testing.TB, tokens map[string]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# principals of this test\n\n")
	for _, name := range slices.Sorted(maps.Keys(tokens)) {
		fmt.Fprintf(&b, "%s %s\n", name, auth.HashToken(tokens[name]))
	}
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// withAuthorization returns ctx sending authz as the authorization metadata ("" sends none).
func withAuthorization(ctx context.Context, authz string) context.Context {
	if authz == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", authz)
}

// authHeader is the HTTP header sending authz ("" sends none).
func authHeader(authz string) http.Header {
	if authz == "" {
		return nil
	}
	return http.Header{"Authorization": {authz}}
}

// simCalls counts the calls of every simulator endpoint.
func simCalls(sim *fiberfake.Sim) map[fiberfake.Endpoint]int {
	out := map[fiberfake.Endpoint]int{}
	for _, ep := range fiberfake.Endpoints() {
		out[ep] = sim.Calls(ep)
	}
	return out
}

func TestAuthMatrix(t *testing.T) {
	t.Parallel()
	// 5 people a second: a batch of 3 is done at its first poll, one of 300 runs for a minute.
	sim, url := newUpstreamWith(t, fiberfake.Config{PeoplePerSecond: 5})
	tokens := writeTokensFile(t, map[string]string{"alice": aliceToken, "bob": bobToken})
	p := startOn(t, url, "-tokens-file", tokens)
	client := p.dial(t)
	aliceCtx := func(t *testing.T) context.Context { return withAuthorization(testContext(t), "Bearer "+aliceToken) }

	// Alice's finished tasks, one per transport, followed to their end.
	done := map[string]string{}
	for _, transport := range []string{"grpc", "rest"} {
		resp, err := client.StartBatch(aliceCtx(t), newBatch(3, 0, 0).req)
		if err != nil {
			t.Fatalf("alice's StartBatch: %v", err)
		}
		done[transport] = resp.GetOutput().GetTaskId()
		msgs, err := watchGRPC(aliceCtx(t), client, &cdv1.WatchTaskRequest{TaskId: done[transport]})
		if err != nil {
			t.Fatalf("alice's watch: %v", err)
		}
		checkEndsWith(t, "alice's watch", msgs, cdv1.TaskState_TASK_STATE_SUCCEEDED)
	}
	order := []string{"StartBatch", "GetTask", "ListTasks", "ListTaskResults", "WatchTask", "DeleteTask", "CancelTask"}

	// Phase 1, while no task runs (so Fiber sees nothing but what a call causes): without a
	// valid token every RPC and route is refused, and nothing reaches Fiber.
	t.Run("unauthenticated", func(t *testing.T) {
		before := simCalls(sim)
		for _, transport := range []string{"grpc", "rest"} {
			for _, name := range order {
				for _, c := range unauthenticatedCallers {
					t.Run(transport+"/"+name+"/"+c.name, func(t *testing.T) {
						callMatrix(t, p, client, transport, matrixRPCs[name], done[transport], c.authz, cellUnauthenticated)
					})
				}
			}
		}
		if after := simCalls(sim); !maps.Equal(after, before) {
			t.Errorf("calls refused for want of a token reached Fiber: before %v, after %v", before, after)
		}
	})

	// Phase 2: alice's running tasks, bob's and alice's calls.
	running := map[string]string{}
	aliceIDs := map[string]bool{done["grpc"]: true, done["rest"]: true}
	for _, transport := range []string{"grpc", "rest"} {
		running[transport] = newBatch(300, 0, 0).start(t, &authedClient{client, "Bearer " + aliceToken})
		aliceIDs[running[transport]] = true
	}
	bobIDs := map[string]bool{}
	deleted := map[string]bool{}
	taskFor := func(transport, rpc string) string {
		switch rpc {
		case "ListTaskResults", "WatchTask":
			return done[transport]
		}
		return running[transport]
	}
	started := func(ids map[string]bool) func(t *testing.T, out []byte) {
		return func(t *testing.T, out []byte) {
			var resp struct {
				Output struct {
					TaskID string `json:"taskId"`
				} `json:"output"`
			}
			if err := json.Unmarshal(out, &resp); err != nil || resp.Output.TaskID == "" {
				t.Fatalf("StartBatch answered %s (%v)", out, err)
			}
			ids[resp.Output.TaskID] = true
		}
	}
	other := map[string]cellWant{
		"StartBatch": cellOK(started(bobIDs)), // any principal may start its own batches
		"GetTask":    cellTaskNotFound,
		"ListTasks": cellOK(func(t *testing.T, out []byte) {
			ids := taskIDsOf(t, out)
			if len(ids) == 0 {
				t.Errorf("bob's ListTasks lists none of the tasks he started")
			}
			for _, id := range ids {
				if aliceIDs[id] {
					t.Errorf("bob's ListTasks lists alice's task %s", id)
				} else if !bobIDs[id] {
					t.Errorf("bob's ListTasks lists a task he did not start: %s", id)
				}
			}
		}),
		"ListTaskResults": cellTaskNotFound,
		"WatchTask":       cellTaskNotFound,
		"DeleteTask":      cellTaskNotFound, // not TASK_RUNNING: that would reveal the task
		"CancelTask":      cellTaskNotFound,
	}
	right := map[string]cellWant{
		"StartBatch": cellOK(started(aliceIDs)),
		"GetTask": cellOK(func(t *testing.T, out []byte) {
			var resp struct {
				Task struct{ TaskID, State string } `json:"task"`
			}
			if err := json.Unmarshal(out, &resp); err != nil || resp.Task.State != "TASK_STATE_RUNNING" || !aliceIDs[resp.Task.TaskID] {
				t.Errorf("alice's GetTask answered %s (%v)", out, err)
			}
		}),
		"ListTasks": cellOK(func(t *testing.T, out []byte) {
			ids := taskIDsOf(t, out)
			for _, id := range ids {
				if bobIDs[id] {
					t.Errorf("alice's ListTasks lists bob's task %s", id)
				}
			}
			for id := range aliceIDs {
				if !deleted[id] && !slices.Contains(ids, id) {
					t.Errorf("alice's ListTasks lacks her task %s: %v", id, ids)
				}
			}
		}),
		"ListTaskResults": cellOK(func(t *testing.T, out []byte) {
			var resp struct {
				Results []json.RawMessage `json:"results"`
				State   string            `json:"state"`
			}
			if err := json.Unmarshal(out, &resp); err != nil || len(resp.Results) != 3 || resp.State != "TASK_STATE_SUCCEEDED" {
				t.Errorf("alice's ListTaskResults answered %s (%v)", out, err)
			}
		}),
		"WatchTask": cellOK(func(t *testing.T, out []byte) {
			if s := lastWatchState(t, out); s != "TASK_STATE_SUCCEEDED" {
				t.Errorf("alice's watch ended in %q, want TASK_STATE_SUCCEEDED:\n%s", s, out)
			}
		}),
		"DeleteTask": cellErr(codes.FailedPrecondition, "TASK_RUNNING", http.StatusBadRequest), // documented: a running task
		"CancelTask": cellOK(func(t *testing.T, out []byte) {
			var resp struct {
				CancelledCount int `json:"cancelledCount"`
			}
			if err := json.Unmarshal(out, &resp); err != nil || resp.CancelledCount <= 0 {
				t.Errorf("alice's CancelTask answered %s (%v)", out, err)
			}
		}),
	}
	for _, transport := range []string{"grpc", "rest"} {
		t.Run(transport, func(t *testing.T) {
			for _, name := range order {
				rpc, id := matrixRPCs[name], taskFor(transport, name)
				t.Run(name+"/other principal", func(t *testing.T) {
					before := simCalls(sim)
					callMatrix(t, p, client, transport, rpc, id, "Bearer "+bobToken, other[name])
					if name != "StartBatch" && sim.Calls(fiberfake.EndpointCancel) != before[fiberfake.EndpointCancel] {
						t.Errorf("bob's %s reached Fiber's cancel", name)
					}
				})
				t.Run(name+"/right token", func(t *testing.T) {
					callMatrix(t, p, client, transport, rpc, id, "Bearer "+aliceToken, right[name])
				})
			}
			// A finished task: bob cannot delete it, alice can, and then it is gone.
			del := matrixRPCs["DeleteTask"]
			callMatrix(t, p, client, transport, del, done[transport], "Bearer "+bobToken, cellTaskNotFound)
			callMatrix(t, p, client, transport, del, done[transport], "Bearer "+aliceToken, cellOK(nil))
			deleted[done[transport]] = true
			callMatrix(t, p, client, transport, matrixRPCs["GetTask"], done[transport], "Bearer "+aliceToken, cellTaskNotFound)
		})
	}

	t.Run("another principal's task is indistinguishable from an unknown one", func(t *testing.T) {
		var bobs, unknown []*status.Status
		for _, transport := range []string{"grpc", "rest"} {
			for _, name := range []string{"GetTask", "ListTaskResults", "WatchTask", "DeleteTask", "CancelTask"} {
				bobs = append(bobs, callMatrix(t, p, client, transport, matrixRPCs[name], running["grpc"], "Bearer "+bobToken, cellTaskNotFound))
				unknown = append(unknown, callMatrix(t, p, client, transport, matrixRPCs[name], "no-such-task-00000", "Bearer "+bobToken, cellTaskNotFound))
			}
		}
		for i := range bobs {
			if bobs[i] == nil || unknown[i] == nil {
				continue
			}
			if b, u := bobs[i].Message(), unknown[i].Message(); b != u {
				t.Errorf("another's task answers %q, an unknown one %q", b, u)
			}
			// The metadata echoes the task id the caller sent, and nothing else differs.
			b, u := maps.Clone(errorInfo(bobs[i]).GetMetadata()), maps.Clone(errorInfo(unknown[i]).GetMetadata())
			if b["task_id"] != running["grpc"] || u["task_id"] != "no-such-task-00000" {
				t.Errorf("task_id metadata %q and %q, want the ids sent (%q and no-such-task-00000)", b["task_id"], u["task_id"], running["grpc"])
			}
			delete(b, "task_id")
			delete(u, "task_id")
			if !maps.Equal(b, u) {
				t.Errorf("another's task has ErrorInfo metadata %v, an unknown one %v", b, u)
			}
		}
	})

	t.Run("list page tokens belong to their principal", func(t *testing.T) {
		page, err := client.ListTasks(aliceCtx(t), &cdv1.ListTasksRequest{PageSize: 1})
		if err != nil || page.GetNextPageToken() == "" {
			t.Fatalf("alice's first page: %v, %v", page, err)
		}
		_, err = client.ListTasks(withAuthorization(testContext(t), "Bearer "+bobToken), &cdv1.ListTasksRequest{PageSize: 1, PageToken: page.GetNextPageToken()})
		wantStatus(t, "bob with alice's page token", err, codes.InvalidArgument, "INVALID_TOKEN")
	})

	t.Run("health needs no token", func(t *testing.T) {
		conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, authz := range []string{"", "Bearer not-a-token"} {
			resp, err := healthpb.NewHealthClient(conn).Check(withAuthorization(testContext(t), authz), &healthpb.HealthCheckRequest{})
			if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("gRPC health with authorization %q: %v, %v", authz, resp, err)
			}
		}
		if code, _, body := p.rest(t, http.MethodGet, "/healthz", nil, nil); code != http.StatusOK {
			t.Errorf("GET /healthz without a token: HTTP %d: %s", code, body)
		}
	})

	t.Run("reflection needs a token", func(t *testing.T) {
		out, errOut, ok := p.grpcurl(t, "ADDR", "list")
		if ok || !strings.Contains(errOut, "Unauthenticated") {
			t.Errorf("grpcurl list without a token: ok=%v\nstdout: %s\nstderr: %s", ok, out, errOut)
		}
		out, errOut, ok = p.grpcurl(t, "-H", "authorization: Bearer "+aliceToken, "ADDR", "list")
		if !ok {
			t.Fatalf("grpcurl list with alice's token: %s", errOut)
		}
		mustContain(t, out, "fibergate.contactdetails.v1.ContactDetailsService", "grpc.health.v1.Health")
	})

	t.Run("open reflection", func(t *testing.T) {
		open := startOn(t, url, "-tokens-file", tokens, "-open-reflection")
		out, errOut, ok := open.grpcurl(t, "ADDR", "list")
		if !ok {
			t.Fatalf("grpcurl list with -open-reflection: %s", errOut)
		}
		mustContain(t, out, "fibergate.contactdetails.v1.ContactDetailsService")
		out, errOut, ok = open.grpcurl(t, "ADDR", "describe", "fibergate.contactdetails.v1.ContactDetailsService")
		if !ok {
			t.Fatalf("grpcurl describe with -open-reflection: %s", errOut)
		}
		mustContain(t, out, "rpc StartBatch")
		// Open reflection opens reflection only.
		before := sim.Calls(fiberfake.EndpointStart)
		out, errOut, ok = open.grpcurl(t, "-d", matrixStartBody, "ADDR", "fibergate.contactdetails.v1.ContactDetailsService/StartBatch")
		if ok || !strings.Contains(errOut, `"code": 16`) {
			t.Errorf("StartBatch without a token on an open-reflection server: ok=%v\nstdout: %s\nstderr: %s", ok, out, errOut)
		}
		if n := sim.Calls(fiberfake.EndpointStart); n != before {
			t.Errorf("an unauthenticated StartBatch reached Fiber")
		}
	})

	t.Run("refuses to start", func(t *testing.T) {
		badTokens := filepath.Join(t.TempDir(), "bad-tokens")
		if err := os.WriteFile(badTokens, []byte("alice not-a-hash\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		emptyTokens := filepath.Join(t.TempDir(), "empty-tokens")
		if err := os.WriteFile(emptyTokens, []byte("# nobody\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name  string
			args  []string
			wants []string
		}{
			{"real Fiber without caller authentication", nil, []string{"authentication", "-tokens-file", "-insecure-no-auth"}},
			{"a malformed tokens file", []string{"-tokens-file", badTokens}, []string{"tokens file line 1"}},
			{"a tokens file without principals", []string{"-tokens-file", emptyTokens}, []string{"no principal"}},
			{"a missing tokens file", []string{"-tokens-file", filepath.Join(t.TempDir(), "absent")}, []string{"tokens file"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				stderr, err := runServerToExit(t, []string{"FIBER_API_KEY=" + serverKey}, append([]string{"-fiber-url", url}, tt.args...)...)
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() == 0 {
					t.Fatalf("server exit: %v, want a non-zero exit\n%s", err, stderr)
				}
				mustContain(t, stderr, tt.wants...)
				if strings.Contains(stderr, "fibergate listening") {
					t.Errorf("the server listened before refusing:\n%s", stderr)
				}
			})
		}
	})
	assertNoSecrets(t, p.logs.String())
	if logs := p.logs.String(); strings.Contains(logs, aliceToken) || strings.Contains(logs, bobToken) {
		t.Error("a caller token leaked into the server's logs")
	}
}

// runServerToExit runs the server binary (loopback ports, a temporary store) with env and
// args, expecting it to exit by itself; it returns stderr and the exit error. A server that
// is still running after 30s is killed and the test fails.
func runServerToExit(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := []string{"-grpc-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0", "-store", "sqlite:" + filepath.Join(t.TempDir(), "fibergate.db")}
	cmd := exec.CommandContext(ctx, serverBin, append(base, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("the server did not exit within 30s:\n%s", stderr.String())
	}
	return stderr.String(), err
}
