package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/fiberfake"
)

// watchClientEnv, when set in the environment of the test binary, makes it a watch client
// (see runWatchClient) instead of running tests. Its value is "ADDR TASK_ID CONNS STREAMS".
const watchClientEnv = "FIBERGATE_BENCH_WATCH_CLIENT"

const benchKey = "bench-fiber-key"

// maxIdleStreamBytes is the target cost of one idle WatchTask stream to the server.
const maxIdleStreamBytes = 50 << 10

// BenchmarkIdleWatchStreamMemory measures what one idle WatchTask stream costs the server:
// 10,000 streams watch a task that makes no progress, over 10 HTTP/2 connections of 1,000
// streams each (20 sockets in all, so the default file-descriptor limit is enough; 1,000 is
// the server's default cap of streams per connection, server.DefaultMaxStreamsPerConn).
//
// The clients run in a child process (this test binary re-executed, see TestMain), so the
// figures are the server's alone: HeapInuse+StackInuse of this process after GC with all
// streams open and each past its first message, minus the same before, divided by the streams.
// This process also holds the Fiber simulator and the SQLite store, which the streams do not
// grow. B/stream is the target figure (≤ 50 KiB, checked: the benchmark fails above it);
// heap-B/stream and stack-B/stream split it, and goroutines/stream counts the server goroutines
// each stream keeps. One op is one round of 10,000 streams, so run it with -benchtime 1x:
//
//	go test -run '^$' -bench IdleWatchStreamMemory -benchtime 1x ./internal/server/
func BenchmarkIdleWatchStreamMemory(b *testing.B) {
	const conns, streams = 10, 10_000
	ib := newIdleBench(b, streams)
	var sum idleFigures
	b.ResetTimer()
	for range b.N {
		f := ib.measure(b, conns, streams)
		sum.heap += f.heap
		sum.stack += f.stack
		sum.goroutines += f.goroutines
	}
	b.StopTimer()
	n := float64(b.N)
	perStream := (sum.heap + sum.stack) / n
	b.ReportMetric(perStream, "B/stream")
	b.ReportMetric(sum.heap/n, "heap-B/stream")
	b.ReportMetric(sum.stack/n, "stack-B/stream")
	b.ReportMetric(sum.goroutines/n, "goroutines/stream")
	if perStream > maxIdleStreamBytes {
		b.Errorf("an idle stream costs %.0f B, want at most %d (50 KiB)", perStream, maxIdleStreamBytes)
	}
}

// TestIdleWatchStreamsSmall runs BenchmarkIdleWatchStreamMemory's body with 150 streams (more
// than service.DefaultMaxWatchStreams, so a stack that lost its raised cap fails here) over 3
// connections, so that `go test` catches what would break the benchmark. It checks what does
// not depend on the machine's speed: every stream got its first message and stayed open (the
// server holds at least one goroutine per stream while they are open) and the server's
// goroutines went back to their idle count once the client left. Memory at this scale is too
// coarse to check against the target; the benchmark does that.
func TestIdleWatchStreamsSmall(t *testing.T) {
	const conns, streams = 3, 150
	ib := newIdleBench(t, streams)
	f := ib.measure(t, conns, streams)
	if f.goroutines < 1 {
		t.Errorf("%.2f server goroutines per open stream, want at least 1: are the streams open?", f.goroutines)
	}
	t.Logf("%.0f B per stream (heap %.0f, stack %.0f), %.2f goroutines per stream", f.heap+f.stack, f.heap, f.stack, f.goroutines)
}

// idleBench is a stack with one task that never progresses, already watched once, and the
// test binary to re-execute as the watch client.
type idleBench struct {
	st  *stack
	id  string // the task
	exe string // this test binary
}

// newIdleBench starts the stack, allowing maxStreams watch streams, and the task.
func newIdleBench(tb testing.TB, maxStreams int) *idleBench {
	tb.Helper()
	// One person at a millionth of a person per second: the task never finishes.
	sim, url, err := fiberfake.Start(fiberfake.Config{Seed: 1, PeoplePerSecond: 1e-6, Keys: map[string]float64{benchKey: 1e9}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sim.Close() })
	fc, err := fiber.New(url)
	if err != nil {
		tb.Fatal(err)
	}
	st := startStack(tb, stackConfig{starter: fc, upstream: fc, apiKey: benchKey, maxWatchStreams: maxStreams})
	client := st.dial(tb, 1)[0]
	ctx := benchContext(tb, 10*time.Minute)
	resp, err := client.StartBatch(ctx, &cdv1.StartBatchRequest{PersonDetails: []*cdv1.PersonDetails{
		{LinkedinUrl: &cdv1.LinkedInUrl{Value: "https://www.linkedin.com/in/never-done"}},
	}})
	if err != nil {
		tb.Fatal(err)
	}
	id := resp.GetOutput().GetTaskId()
	// One watch first, so that what the first watch of a task sets up is not counted.
	warm, cancelWarm := context.WithCancel(ctx)
	defer cancelWarm()
	stream, err := client.WatchTask(warm, &cdv1.WatchTaskRequest{TaskId: id})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		tb.Fatal(err)
	}
	cancelWarm()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	return &idleBench{st: st, id: id, exe: exe}
}

// idleFigures is what idle streams cost the server, per stream.
type idleFigures struct {
	heap, stack float64 // bytes in use
	goroutines  float64
}

// measure opens streams watches of the task over conns connections from a child process,
// and returns what they cost the server while open. It fails tb unless every stream got its
// first message and the server's goroutines fall back to their idle count once the child left.
func (ib *idleBench) measure(tb testing.TB, conns, streams int) idleFigures {
	tb.Helper()
	idle := settleGoroutines(tb, -1)
	before := memory()
	child := startWatchClient(tb, ib.exe, fmt.Sprintf("%s %s %d %d", ib.st.grpcAddr, ib.id, conns, streams))
	after := memory()
	busy := runtime.NumGoroutine()
	child.stop(tb)
	settleGoroutines(tb, idle)
	return idleFigures{
		heap:       float64(after.heap-before.heap) / float64(streams),
		stack:      float64(after.stack-before.stack) / float64(streams),
		goroutines: float64(busy-idle) / float64(streams),
	}
}

type memStats struct{ heap, stack int64 }

// memory returns this process's heap and stack in use after a full collection.
func memory() memStats {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memStats{heap: int64(m.HeapInuse), stack: int64(m.StackInuse)}
}

// settleGoroutines waits until the goroutine count is at most target (when target ≥ 0), or
// stops falling, and returns it, within 30s.
//
// It polls, with a sleep between looks, because what it waits for is not an event: a goroutine
// ending signals nothing, and the server's goroutines of a closed connection (gRPC-Go's reader,
// writer and keepalive loops, the stream handlers) end some time after anything observable,
// even after a stats.Handler's ConnEnd; goleak polls for the same reason. "Stopped falling" is
// itself a statement about time, so the idle count before a measurement cannot be had without
// one either. The polls are bounded: at most 30s, which fails a target that is not reached.
func settleGoroutines(tb testing.TB, target int) int {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last, stable := runtime.NumGoroutine(), 0
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		n := runtime.NumGoroutine()
		switch {
		case target >= 0 && n <= target:
			return n
		case target < 0 && n == last:
			if stable++; stable == 5 {
				return n
			}
		default:
			stable = 0
		}
		last = n
	}
	if target >= 0 {
		tb.Fatalf("%d goroutines 30s after the watchers left, want at most %d", last, target)
	}
	return last
}

// watchClient is a child process holding watch streams open.
type watchClient struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startWatchClient starts the child and returns once every stream got its first message.
func startWatchClient(tb testing.TB, exe, spec string) *watchClient {
	tb.Helper()
	cmd := exec.Command(exe, "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), watchClientEnv+"="+spec)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	c := &watchClient{cmd: cmd, stdin: stdin}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Scan()
		line <- sc.Text()
		io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-line:
		if l != "ready" {
			c.stop(tb)
			tb.Fatalf("watch client said %q, want ready", l)
		}
	case <-time.After(2 * time.Minute):
		c.stop(tb)
		tb.Fatal("watch client not ready within 2 minutes")
	}
	return c
}

// stop closes the child's stdin, which ends it, and waits for it.
func (c *watchClient) stop(tb testing.TB) {
	c.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			tb.Errorf("watch client: %v", err)
		}
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-done
		tb.Error("watch client did not exit within 30s")
	}
}

// runWatchClient is the child process: it opens STREAMS watches of TASK_ID spread over CONNS
// connections to ADDR, says "ready" on out once each got its first message, and exits when in
// reaches its end (the parent closed it).
func runWatchClient(spec string, in io.Reader, out io.Writer) error {
	var (
		addr, id        string
		conns, streams  int
		ctx, cancel     = context.WithTimeout(context.Background(), 30*time.Minute)
		ready           sync.WaitGroup
		errs            = make(chan error, 1)
		clients         []cdv1.ContactDetailsServiceClient
		firstErrorFound = func(err error) {
			select {
			case errs <- err:
			default:
			}
		}
	)
	defer cancel()
	if _, err := fmt.Sscan(spec, &addr, &id, &conns, &streams); err != nil {
		return fmt.Errorf("spec %q: %w", spec, err)
	}
	for range conns {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer conn.Close()
		clients = append(clients, cdv1.NewContactDetailsServiceClient(conn))
	}
	ready.Add(streams)
	for i := range streams {
		go func() {
			s, err := clients[i%conns].WatchTask(ctx, &cdv1.WatchTaskRequest{TaskId: id})
			if err == nil {
				_, err = s.Recv()
			}
			if err != nil {
				firstErrorFound(err)
			}
			ready.Done()
			if err == nil {
				s.Recv() // blocks until the process ends
			}
		}()
	}
	ready.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	fmt.Fprintln(out, "ready")
	_, err := io.Copy(io.Discard, in)
	return err
}
