package fiberfaketest

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/fibergate/fibergate/internal/fiberfake"
)

// PipeURL is the base URL of a simulator served by NewPipeServer. Its host
// never resolves: only the client NewPipeServer returns reaches the simulator.
const PipeURL = "http://fiberfake.invalid"

// NewPipeServer serves a simulator for cfg, both the Fiber API and the admin
// routes, over in-memory connections, and returns it with an HTTP client
// whose every request reaches it, whatever the URL's host (use PipeURL).
//
// Nothing touches the network, so a test may call NewPipeServer inside a
// testing/synctest bubble: a goroutine blocked on a pipe is durably blocked,
// unlike one blocked on a socket, and the simulator then tells time by the
// bubble's clock. The server, the client's connections and the simulator are
// closed by tb.Cleanup.
func NewPipeServer(tb testing.TB, cfg fiberfake.Config) (*fiberfake.Sim, *http.Client) {
	tb.Helper()
	sim := fiberfake.New(cfg)
	mux := http.NewServeMux()
	mux.Handle("/_sim/", sim.AdminHandler())
	mux.Handle("/", sim.Handler())
	l := newPipeListener()
	srv := &http.Server{Handler: mux}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(l) // returns http.ErrServerClosed once the server is shut down
	}()
	tr := &http.Transport{DialContext: l.dial}
	tb.Cleanup(func() {
		_ = sim.Close() // ends injected delays, so handlers return
		tr.CloseIdleConnections()
		// Shutdown, unlike Close, waits for every connection's goroutine,
		// which a bubble needs before its test returns.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			tb.Errorf("shut the fiber simulator down: %v", err)
			_ = srv.Close()
		}
		<-served
	})
	return sim, &http.Client{Transport: tr}
}

// pipeListener is a net.Listener whose connections are the server ends of
// the net.Pipe pairs made by dial.
type pipeListener struct {
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

// Accept implements net.Listener.
func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (l *pipeListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

// Addr implements net.Listener.
func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// dial connects to the listener; it is an http.Transport's DialContext.
func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	var err error
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		err = net.ErrClosed
	case <-ctx.Done():
		err = ctx.Err()
	}
	client.Close()
	server.Close()
	return nil, err
}

// pipeAddr is the address of a pipeListener.
type pipeAddr struct{}

// Network implements net.Addr.
func (pipeAddr) Network() string { return "pipe" }

// String implements net.Addr.
func (pipeAddr) String() string { return "fiberfake.invalid" }
