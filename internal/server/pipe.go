package server

import (
	"context"
	"net"
	"sync"
)

// pipeListener is a net.Listener whose connections are in-memory pipes (net.Pipe), made by
// Dial: the REST gateway reaches its gRPC server through one without a socket, a port or TLS.
// Its methods are safe for concurrent use.
type pipeListener struct {
	conns chan net.Conn // the server ends of dialled pipes, handed to Accept
	done  chan struct{} // closed by Close
	once  sync.Once     // guards closing done
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept waits for a Dial and returns the server end of its pipe; after Close it returns
// net.ErrClosed.
func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close makes Accept and Dial fail from now on. Pipes already accepted stay open.
func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is the listener's address, network "pipe".
func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// Dial returns the client end of a new pipe once Accept has taken its server end. It fails
// with ctx's error if ctx ends first, and with net.ErrClosed once the listener is closed.
func (l *pipeListener) Dial(ctx context.Context) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-ctx.Done():
		server.Close()
		client.Close()
		return nil, ctx.Err()
	case <-l.done:
		server.Close()
		client.Close()
		return nil, net.ErrClosed
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "in-memory" }
