package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/launch"
)

// Binaries built once for the end-to-end tests.
var (
	serverBin    string
	grpcurlBin   string
	fiberfakeBin string // the standalone simulator, cmd/fiberfake
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fibergate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	bins, err := launch.Build(ctx, dir, launch.ServerPkg, launch.FiberfakePkg,
		"github.com/fullstorydev/grpcurl/cmd/grpcurl") // pinned by go.mod's tool directive
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	serverBin, fiberfakeBin, grpcurlBin = bins[0], bins[1], bins[2]
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a fibergate server binary running on loopback ports.
type proc struct {
	t        testing.TB
	cmd      *exec.Cmd
	grpcAddr string
	httpAddr string
	logs     *syncBuffer // everything the server wrote to stderr
	exited   chan struct{}
	exitErr  error
}

// startServer runs the server binary with args (plus loopback listen addresses and JSON logs)
// and the given environment (nothing of the test's own environment but PATH and HOME), and
// waits until it listens. The server is stopped with SIGTERM at cleanup.
func startServer(t testing.TB, env []string, args ...string) *proc {
	t.Helper()
	base := []string{"-grpc-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0", "-log-format", "json"}
	if !slices.Contains(args, "-tokens-file") && !slices.Contains(args, "-fake-fiber") {
		base = append(base, "-insecure-no-auth")
	}
	if !slices.Contains(args, "-store") {
		base = append(base, "-store", "sqlite:"+filepath.Join(t.TempDir(), "fibergate.db"))
	}
	args = append(base, args...)
	cmd := exec.Command(serverBin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, logs: &syncBuffer{}, exited: make(chan struct{})}
	addrs := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			p.logs.Write(append(line, '\n'))
			var rec struct{ Msg, GRPCAddr, HTTPAddr string }
			var raw map[string]any
			if json.Unmarshal(line, &raw) == nil && raw["msg"] == "fibergate listening" {
				rec.GRPCAddr, _ = raw["grpc_addr"].(string)
				rec.HTTPAddr, _ = raw["http_addr"].(string)
				select {
				case addrs <- [2]string{rec.GRPCAddr, rec.HTTPAddr}:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop() })
	select {
	case a := <-addrs:
		p.grpcAddr, p.httpAddr = a[0], a[1]
	case <-p.exited:
		t.Fatalf("server exited before listening: %v\n%s", p.exitErr, p.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not listen within 30s\n%s", p.logs.String())
	}
	return p
}

// stop sends SIGTERM and waits for the exit; it returns the process's exit error.
func (p *proc) stop() error { return p.stopWith(syscall.SIGTERM) }

// stopWith sends sig and waits for the exit; it returns the process's exit error. A server
// still running 20s later is killed and the test fails.
func (p *proc) stopWith(sig os.Signal) error {
	select {
	case <-p.exited:
		return p.exitErr
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		p.t.Errorf("server did not stop within 20s of %v", sig)
	}
	return p.exitErr
}

// dial returns a gRPC client of the server's service.
func (p *proc) dial(t testing.TB) cdv1.ContactDetailsServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return cdv1.NewContactDetailsServiceClient(conn)
}

// grpcurl runs the real grpcurl binary against the server and returns stdout, stderr and
// whether it exited 0.
func (p *proc) grpcurl(t testing.TB, args ...string) (stdout, stderr string, ok bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	all := append([]string{"-plaintext", "-format-error"}, args...)
	// grpcurl wants the address before the method; callers pass it as "ADDR".
	for i, a := range all {
		if a == "ADDR" {
			all[i] = p.grpcAddr
		}
	}
	cmd := exec.CommandContext(ctx, grpcurlBin, all...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err == nil
}

// rest sends a REST request with a JSON body (nil for none) and returns status, headers and body.
func (p *proc) rest(t testing.TB, method, path string, body []byte, header http.Header) (int, http.Header, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+p.httpAddr+path, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
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

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustContain(t testing.TB, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
}
