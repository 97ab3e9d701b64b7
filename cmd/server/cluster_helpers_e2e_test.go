package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

// What the cluster end-to-end tests share: the standalone simulator run as a process of its
// own, replicas of the server on one PostgreSQL database, and watchers that keep every message.

// Fiber's per-key limits scaled ten times down in time, as the cluster tests run them: the
// simulator enforces them and every replica is told them.
const (
	scaledStartRate = "30/6s"
	scaledPollRate  = "240/6s"
	scaledStarts    = 30
	scaledWindow    = 6 * time.Second
)

// clusterLeaseTTL is the replicas' -lease-ttl: a killed replica's tasks move within about 3s.
const clusterLeaseTTL = 2 * time.Second

// fakeProc is cmd/fiberfake running on a loopback port, logging every call.
type fakeProc struct {
	t      testing.TB
	cmd    *exec.Cmd
	url    string      // base URL of the Fiber API and of the admin routes under /_sim/
	logs   *syncBuffer // everything it wrote to stderr
	exited chan struct{}
}

// listeningAddr finds the address in fiberfake's "fiberfake listening" line.
var listeningAddr = regexp.MustCompile(`msg="fiberfake listening" addr=(\S+)`)

// startFiberfake runs the simulator binary with both test keys, the scaled limits and args on
// loopback, and waits until it listens. It is stopped with SIGTERM at cleanup.
func startFiberfake(t testing.TB, args ...string) *fakeProc {
	t.Helper()
	base := []string{"-addr", "127.0.0.1:0", "-verbose", "-seed", "7",
		"-keys", serverKey + "=100000," + requestKey + "=100000",
		"-start-rate", scaledStartRate, "-poll-rate", scaledPollRate}
	cmd := exec.Command(fiberfakeBin, append(base, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f := &fakeProc{t: t, cmd: cmd, logs: &syncBuffer{}, exited: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			f.logs.Write(append(sc.Bytes(), '\n'))
			if m := listeningAddr.FindSubmatch(sc.Bytes()); m != nil {
				select {
				case addr <- string(m[1]):
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
		close(f.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-f.exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-f.exited
			t.Errorf("fiberfake did not stop within 20s of SIGTERM")
		}
	})
	select {
	case a := <-addr:
		f.url = "http://" + a
	case <-f.exited:
		t.Fatalf("fiberfake exited before listening:\n%s", f.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("fiberfake did not listen within 30s:\n%s", f.logs.String())
	}
	return f
}

// stats reads the simulator's counters from its admin route.
func (f *fakeProc) stats(t testing.TB) fiberfake.Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url+"/_sim/stats", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("simulator stats: %v", err)
	}
	defer resp.Body.Close()
	var s fiberfake.Stats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatalf("simulator stats: %v", err)
	}
	return s
}

// loggedStart matches the simulator's log line of a start it answered 200.
var loggedStart = regexp.MustCompile(`(?m)^time=(\S+) level=DEBUG msg="fiberfake call" endpoint=start status=200\b`)

// startTimes returns when the simulator answered each successful start, in order: an upper
// bound of each start's arrival, to the millisecond.
func (f *fakeProc) startTimes(t testing.TB) []time.Time {
	t.Helper()
	var out []time.Time
	for _, m := range loggedStart.FindAllStringSubmatch(f.logs.String(), -1) {
		at, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			t.Fatalf("simulator log time %q: %v", m[1], err)
		}
		out = append(out, at)
	}
	slices.SortFunc(out, time.Time.Compare)
	return out
}

// mostInWindow returns the largest number of times in any half-open window of length w.
func mostInWindow(times []time.Time, w time.Duration) int {
	most := 0
	for i, j := 0, 0; j < len(times); j++ {
		for times[j].Sub(times[i]) >= w {
			i++
		}
		most = max(most, j-i+1)
	}
	return most
}

// replicaNames returns the ids startCluster gives n replicas, in order.
func replicaNames(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("replica-%d", i))
	}
	return out
}

// startCluster runs n server binaries on the database dsn and the simulator at url, named
// replica-0 … replica-n-1, with the scaled limits, a short lease and polls logged.
func startCluster(t testing.TB, n int, dsn, url string) []*proc {
	t.Helper()
	var ps []*proc
	for _, id := range replicaNames(n) {
		ps = append(ps, startServer(t, []string{"FIBER_API_KEY=" + serverKey},
			"-fiber-url", url, "-store", dsn, "-replica-id", id,
			"-lease-ttl", clusterLeaseTTL.String(), "-log-level", "debug", "-allow-request-api-key",
			"-start-rate", scaledStartRate, "-poll-rate", scaledPollRate))
	}
	return ps
}

// healthOf returns a client of the server's health service.
func healthOf(t testing.TB, p *proc) healthpb.HealthClient {
	t.Helper()
	conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}

// watcher is a WatchTask stream read in the background until it ends. Its fields may be read
// once wait returned.
type watcher struct {
	done chan struct{} // closed when the stream ended
	msgs []*cdv1.WatchTaskResponse
	err  error // how it ended: nil for OK
}

// watchInBackground opens a watch of req on client, waits for its first message (so the
// watch is registered when it returns), and reads the rest in the background. It fails t if
// the stream cannot be opened or ends before a first message.
func watchInBackground(t *testing.T, client cdv1.ContactDetailsServiceClient, req *cdv1.WatchTaskRequest) *watcher {
	t.Helper()
	stream, err := client.WatchTask(testContext(t), req)
	if err != nil {
		t.Fatalf("watch %s: %v", req.GetTaskId(), err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatalf("watch %s: first message: %v", req.GetTaskId(), err)
	}
	w := &watcher{done: make(chan struct{}), msgs: []*cdv1.WatchTaskResponse{first}}
	go func() {
		defer close(w.done)
		for {
			m, err := stream.Recv()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					w.err = err
				}
				return
			}
			w.msgs = append(w.msgs, m)
		}
	}()
	return w
}

// wait waits for the stream's end and returns it (nil for OK). It fails t after 60s.
func (w *watcher) wait(t testing.TB) error {
	t.Helper()
	select {
	case <-w.done:
		return w.err
	case <-time.After(60 * time.Second):
		t.Fatalf("a watch did not end within 60s")
		return nil
	}
}

// token is the resume token of the last message the watcher received.
func (w *watcher) token() string {
	for _, m := range slices.Backward(w.msgs) {
		if tok := m.GetResumeToken(); tok != "" {
			return tok
		}
	}
	return ""
}

// waitHealthAll waits until the service health of every replica is want, one after the other.
func waitHealthAll(t *testing.T, replicas []*proc, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	for _, p := range replicas {
		waitHealth(t, healthOf(t, p), cdv1.ContactDetailsService_ServiceDesc.ServiceName, want)
	}
}
