package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiberfake"
	"github.com/fibergate/fibergate/internal/launch"
)

// stack is the simulator and, unless a scenario does without it, a server in front of it.
type stack struct {
	fake   *launch.Fake
	server *launch.Server // nil from startFake
	conn   *grpc.ClientConn
	client cdv1.ContactDetailsServiceClient
}

// startStack runs the simulator with fakeArgs and a server in front of it with serverArgs
// (after a fresh SQLite store of its own and no caller authentication; later args win), and
// dials the server. Close stops both.
func (b *bench) startStack(fakeArgs, serverArgs []string) (*stack, error) {
	s, err := b.startFake(fakeArgs...)
	if err != nil {
		return nil, err
	}
	b.runs++
	args := append([]string{
		"-fiber-url", "http://" + s.fake.Addr,
		"-store", "sqlite:" + filepath.Join(b.dir, fmt.Sprintf("run-%d.db", b.runs)),
		"-insecure-no-auth",
	}, serverArgs...)
	s.server, err = launch.StartServer(b.serverBin, []string{"FIBER_API_KEY=" + fiberfake.DemoAPIKey}, args...)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.conn, err = grpc.NewClient(s.server.GRPCAddr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		s.Close()
		return nil, err
	}
	s.client = cdv1.NewContactDetailsServiceClient(s.conn)
	return s, nil
}

// startFake runs the simulator alone, for the scenarios' baselines without fibergate.
func (b *bench) startFake(args ...string) (*stack, error) {
	fake, err := launch.StartFake(b.fakeBin, args...)
	if err != nil {
		return nil, err
	}
	return &stack{fake: fake}, nil
}

// fiberURL is the simulator's base URL, for clients that talk to it directly.
func (s *stack) fiberURL() string { return "http://" + s.fake.Addr }

// simStats reads the simulator's counters (calls, 429s, tasks started).
func (s *stack) simStats(ctx context.Context) (fiberfake.Stats, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var st fiberfake.Stats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.fiberURL()+"/_sim/stats", nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("simulator stats: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("simulator stats: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// Close stops the server (if any) and the simulator, and returns the first error.
func (s *stack) Close() error {
	var first error
	if s.conn != nil {
		s.conn.Close()
	}
	if s.server != nil {
		if err := s.server.Stop(); err != nil {
			first = fmt.Errorf("server: %w", err)
		}
	}
	if err := s.fake.Stop(); err != nil && first == nil {
		first = fmt.Errorf("simulator: %w", err)
	}
	return first
}
