// Package launch builds fibergate's own binaries and runs them on loopback ports: the server
// (cmd/server) and the standalone Fiber simulator (cmd/fiberfake). It serves the end-to-end
// tests of the command-line client and the benchmark command, which talk to the real
// binaries exactly as a user would.
//
// A Proc is safe for concurrent use. Its log is kept in memory whole: runs are short.
package launch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Module packages of the binaries Build knows.
const (
	ServerPkg    = "github.com/fibergate/fibergate/cmd/server"
	FiberfakePkg = "github.com/fibergate/fibergate/cmd/fiberfake"
	ClientPkg    = "github.com/fibergate/fibergate/cmd/fibergate"
)

// Build compiles each package into dir, named after the package's last path element
// (server, fiberfake, fibergate), and returns the binaries' paths in the same order. It runs
// the go command of PATH from the current directory, which must be inside the module.
func Build(ctx context.Context, dir string, pkgs ...string) ([]string, error) {
	bins := make([]string, len(pkgs))
	for i, pkg := range pkgs {
		bins[i] = filepath.Join(dir, filepath.Base(pkg))
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bins[i], pkg)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("build %s: %w\n%s", pkg, err, stderr.Bytes())
		}
	}
	return bins, nil
}

// Proc is a running binary.
type Proc struct {
	cmd     *exec.Cmd
	logs    logBuffer
	exited  chan struct{} // closed once the process has exited and its output is read
	exitErr error         // set before exited is closed
}

// Server is a running fibergate server.
type Server struct {
	*Proc
	GRPCAddr, HTTPAddr string
}

// Fake is a running standalone Fiber simulator.
type Fake struct {
	*Proc
	Addr string // host:port of its API and its /_sim/ admin routes
}

// StartTimeout bounds how long Start* wait for a binary to listen.
const StartTimeout = 30 * time.Second

// StartServer runs the server binary bin with args, after loopback listen addresses on
// ephemeral ports and JSON logs (args given later win), and with env as its whole
// environment besides PATH and HOME. It returns once the server listens.
func StartServer(bin string, env []string, args ...string) (*Server, error) {
	base := []string{"-grpc-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0", "-log-format", "json"}
	var grpcAddr, httpAddr string
	p, err := start(bin, env, append(base, args...), func(line []byte) bool {
		var rec struct {
			Msg      string `json:"msg"`
			GRPCAddr string `json:"grpc_addr"`
			HTTPAddr string `json:"http_addr"`
		}
		if json.Unmarshal(line, &rec) != nil || rec.Msg != "fibergate listening" {
			return false
		}
		grpcAddr, httpAddr = rec.GRPCAddr, rec.HTTPAddr
		return true
	})
	if err != nil {
		return nil, err
	}
	return &Server{Proc: p, GRPCAddr: grpcAddr, HTTPAddr: httpAddr}, nil
}

var fakeListening = regexp.MustCompile(`msg="fiberfake listening" addr=(\S+)`)

// StartFake runs the simulator binary bin with args, after a loopback listen address on an
// ephemeral port (an -addr in args wins). It returns once the simulator listens.
func StartFake(bin string, args ...string) (*Fake, error) {
	if !slices.Contains(args, "-addr") {
		args = append([]string{"-addr", "127.0.0.1:0"}, args...)
	}
	var addr string
	p, err := start(bin, nil, args, func(line []byte) bool {
		m := fakeListening.FindSubmatch(line)
		if m == nil {
			return false
		}
		addr = string(m[1])
		return true
	})
	if err != nil {
		return nil, err
	}
	return &Fake{Proc: p, Addr: addr}, nil
}

// start runs bin and reads its stderr until listening says a line shows it listens.
func start(bin string, env, args []string, listening func(line []byte) bool) (*Proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = cmd.Stderr // the pipe StderrPipe made: stdout lines join the log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(bin), err)
	}
	p := &Proc{cmd: cmd, exited: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		seen := false
		for sc.Scan() {
			line := sc.Bytes()
			p.logs.write(line)
			if !seen && listening(line) {
				seen = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	select {
	case <-ready:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("%s exited before listening: %v\n%s", filepath.Base(bin), p.exitErr, p.Logs())
	case <-time.After(StartTimeout):
		_ = p.Kill()
		return nil, fmt.Errorf("%s did not listen within %v\n%s", filepath.Base(bin), StartTimeout, p.Logs())
	}
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Logs returns everything the process wrote to stderr so far, a line per record.
func (p *Proc) Logs() string { return p.logs.String() }

// Exited is closed once the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Signal sends sig to the process; it is a no-op once the process has exited.
func (p *Proc) Signal(sig os.Signal) error {
	select {
	case <-p.exited:
		return nil
	default:
		return p.cmd.Process.Signal(sig)
	}
}

// StopGrace bounds how long Stop waits after SIGTERM before it kills the process.
const StopGrace = 20 * time.Second

// ErrKilled is returned by Stop when the process outlived StopGrace after SIGTERM.
var ErrKilled = errors.New("did not stop within the grace period after SIGTERM: killed")

// Stop sends SIGTERM and waits for the exit; it returns the exit error, or ErrKilled when the
// process had to be killed. Stopping a stopped process returns its exit error again.
func (p *Proc) Stop() error {
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.exitErr
	case <-time.After(StopGrace):
		_ = p.Kill()
		return ErrKilled
	}
}

// Kill kills the process (SIGKILL) and waits for the exit.
func (p *Proc) Kill() error {
	_ = p.Signal(syscall.SIGKILL)
	<-p.exited
	return nil
}

// logBuffer keeps a process's log lines.
type logBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *logBuffer) write(line []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(line)
	b.buf.WriteByte('\n')
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
