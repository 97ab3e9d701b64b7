package fiber_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fibergate/fibergate/internal/fiber"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testKey is an API key that must never show up in an error.
const testKey = "sk_test_4f9d2c7a1b8e6f30"

// testContext returns a context that ends with the test, and after 10s at the latest.
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newTestClient starts h on an httptest server and returns a client for it, both torn down
// with the test.
func newTestClient(t testing.TB, h http.Handler, opts ...fiber.Option) (*fiber.Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := fiber.New(srv.URL, append([]fiber.Option{fiber.WithHTTPClient(srv.Client())}, opts...)...)
	if err != nil {
		t.Fatalf("New(%q): %v", srv.URL, err)
	}
	return c, srv
}

// jsonHandler answers every request with status and body (as JSON), draining the request.
func jsonHandler(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// received is one request as the test server saw it.
type received struct {
	Method, Path, ContentType, Accept, UserAgent, Body string
}

// recorder is an http.Handler that records requests and answers them with a fixed answer.
type recorder struct {
	status int
	body   string

	mu   sync.Mutex // guards reqs
	reqs []received
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, received{
		Method:      r.Method,
		Path:        r.URL.Path,
		ContentType: r.Header.Get("Content-Type"),
		Accept:      r.Header.Get("Accept"),
		UserAgent:   r.Header.Get("User-Agent"),
		Body:        string(b),
	})
	rec.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rec.status)
	_, _ = io.WriteString(w, rec.body)
}

func (rec *recorder) requests() []received {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]received(nil), rec.reqs...)
}

// call runs one client method against c with canned arguments, so that tests can cover the
// three endpoints alike.
func call(ctx context.Context, c *fiber.Client, ep fiber.Endpoint) error {
	var err error
	switch ep {
	case fiber.EndpointStart:
		_, err = c.Start(ctx, testKey, fiber.StartRequest{LinkedInURLs: []string{"https://www.linkedin.com/in/jake"}})
	case fiber.EndpointPoll:
		_, err = c.Poll(ctx, testKey, fiber.PollRequest{TaskID: "task-1"})
	case fiber.EndpointCancel:
		_, err = c.Cancel(ctx, testKey, "task-1")
	}
	return err
}

// allEndpoints lists the three endpoints.
func allEndpoints() []fiber.Endpoint {
	return []fiber.Endpoint{fiber.EndpointStart, fiber.EndpointPoll, fiber.EndpointCancel}
}

// assertNoKey fails the test when err's text carries the API key.
func assertNoKey(t testing.TB, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), testKey) {
		t.Errorf("error leaks the API key: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
