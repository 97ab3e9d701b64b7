package fiber_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fibergate/fibergate/internal/fiber"
)

// hijackHandler reads the whole request, then runs fn on the raw connection and closes it.
func hijackHandler(t testing.TB, fn func(net.Conn)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		if fn != nil {
			fn(conn)
		}
	}
}

// wantError asserts that err is an *Error of kind want for ep, and returns it.
func wantError(t testing.TB, err error, ep fiber.Endpoint, want fiber.ErrorKind) *fiber.Error {
	t.Helper()
	var fe *fiber.Error
	if !errors.As(err, &fe) {
		t.Fatalf("got %v (%T), want an *Error", err, err)
	}
	if fe.Kind != want || fe.Endpoint != ep {
		t.Fatalf("got %v (kind %d), want kind %v for %s", err, fe.Kind, want, ep)
	}
	assertNoKey(t, err)
	t.Logf("error: %v", err)
	return fe
}

func TestConnectionClosedAfterRequestIsOutcomeUnknown(t *testing.T) {
	for _, ep := range allEndpoints() {
		t.Run(string(ep), func(t *testing.T) {
			c, _ := newTestClient(t, hijackHandler(t, nil))
			fe := wantError(t, call(testContext(t), c, ep), ep, fiber.KindOutcomeUnknown)
			if fe.StatusCode != 0 || fe.Err == nil {
				t.Errorf("got status %d, cause %v; want 0 and a cause", fe.StatusCode, fe.Err)
			}
		})
	}
}

func TestCutOffBody(t *testing.T) {
	tests := []struct {
		status string
		want   fiber.ErrorKind
	}{
		{"200 OK", fiber.KindOutcomeUnknown},
		{"503 Service Unavailable", fiber.KindUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			c, _ := newTestClient(t, hijackHandler(t, func(conn net.Conn) {
				_, _ = io.WriteString(conn, "HTTP/1.1 "+tt.status+"\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"output\":")
			}))
			_, err := c.Poll(testContext(t), testKey, fiber.PollRequest{TaskID: "t"})
			wantError(t, err, fiber.EndpointPoll, tt.want)
		})
	}
}

func TestClosedListenerIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := fiber.New("http://"+addr, fiber.WithHTTPClient(&http.Client{Transport: &http.Transport{}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	for _, ep := range allEndpoints() {
		fe := wantError(t, call(testContext(t), c, ep), ep, fiber.KindUnavailable)
		if fe.Err == nil {
			t.Errorf("%s: no cause", ep)
		}
	}
}

// TestStalledTLSHandshake covers the per-attempt timeout before anything was sent: the server
// accepts the connection but never answers the TLS handshake.
func TestStalledTLSHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex // guards conns
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
		for _, conn := range conns {
			_ = conn.Close()
		}
	})

	c, err := fiber.New("https://"+ln.Addr().String(), fiber.WithTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	fe := wantError(t, call(testContext(t), c, fiber.EndpointStart), fiber.EndpointStart, fiber.KindUnavailable)
	if !errors.Is(fe, fiber.ErrAttemptTimeout) || errors.Is(fe, context.DeadlineExceeded) {
		t.Errorf("cause = %v, want ErrAttemptTimeout and not context.DeadlineExceeded", fe.Err)
	}
}

// blockingHandler reads the request, reports it on got, then waits for the client to go away.
func blockingHandler(got chan<- struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got <- struct{}{}
		<-r.Context().Done()
	}
}

func TestContextEndsAfterSend(t *testing.T) {
	t.Run("canceled", func(t *testing.T) {
		got := make(chan struct{}, 1)
		c, _ := newTestClient(t, blockingHandler(got))
		ctx, cancel := context.WithCancel(testContext(t))
		defer cancel()
		errc := make(chan error, 1)
		go func() { errc <- call(ctx, c, fiber.EndpointStart) }()
		<-got
		cancel()
		err := <-errc
		wantError(t, err, fiber.EndpointStart, fiber.KindOutcomeUnknown)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("errors.Is(%v, context.Canceled) = false", err)
		}
	})
	t.Run("caller deadline", func(t *testing.T) {
		got := make(chan struct{}, 1)
		c, _ := newTestClient(t, blockingHandler(got))
		ctx, cancel := context.WithTimeout(testContext(t), 100*time.Millisecond)
		defer cancel()
		err := call(ctx, c, fiber.EndpointPoll)
		wantError(t, err, fiber.EndpointPoll, fiber.KindOutcomeUnknown)
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, fiber.ErrAttemptTimeout) {
			t.Errorf("got %v, want context.DeadlineExceeded and not ErrAttemptTimeout", err)
		}
	})
	t.Run("attempt timeout", func(t *testing.T) {
		got := make(chan struct{}, 1)
		c, _ := newTestClient(t, blockingHandler(got), fiber.WithTimeout(100*time.Millisecond))
		err := call(testContext(t), c, fiber.EndpointCancel)
		wantError(t, err, fiber.EndpointCancel, fiber.KindOutcomeUnknown)
		if !errors.Is(err, fiber.ErrAttemptTimeout) || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want ErrAttemptTimeout and not context.DeadlineExceeded", err)
		}
	})
}

func TestContextDoneBeforeSend(t *testing.T) {
	var hits atomic.Int32
	c, _ := newTestClient(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	canceled, cancel := context.WithCancel(testContext(t))
	cancel()
	expired, cancel2 := context.WithDeadline(testContext(t), time.Now().Add(-time.Second))
	defer cancel2()
	for _, ep := range allEndpoints() {
		err := call(canceled, c, ep)
		if !errors.Is(err, context.Canceled) || fiber.KindOf(err) != 0 {
			t.Errorf("%s, canceled: got %v, want a wrapped context.Canceled and no *Error", ep, err)
		}
		err = call(expired, c, ep)
		if !errors.Is(err, context.DeadlineExceeded) || fiber.KindOf(err) != 0 {
			t.Errorf("%s, expired: got %v, want a wrapped context.DeadlineExceeded and no *Error", ep, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("server got %d requests, want 0", n)
	}
}

// roundTripFunc is a transport that reports no httptrace events.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestUntracedTransportFailureIsOutcomeUnknown(t *testing.T) {
	rt := roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("boom " + testKey) })
	c, err := fiber.New("https://api.fiber.test", fiber.WithHTTPClient(&http.Client{Transport: rt}))
	if err != nil {
		t.Fatal(err)
	}
	fe := wantError(t, call(testContext(t), c, fiber.EndpointStart), fiber.EndpointStart, fiber.KindOutcomeUnknown)
	if fe.Err == nil {
		t.Error("no cause")
	}
}
