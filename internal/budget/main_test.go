package budget_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fibergate/fibergate/internal/budget"
	"github.com/fibergate/fibergate/internal/fiber"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testKey is the key id of most tests.
const testKey = "k-0123456789"

// testContext returns a context that ends with the test, and after 10s at the latest. Inside
// a synctest bubble the 10s are the bubble's.
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newLimiter returns a Limiter for cfg or fails the test.
func newLimiter(t testing.TB, cfg budget.Config) *budget.Limiter {
	t.Helper()
	l, err := budget.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}

// mustLimit parses s or fails the test.
func mustLimit(t testing.TB, s string) budget.Limit {
	t.Helper()
	l, err := budget.ParseLimit(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// outcome is what one Wait returned, and when.
type outcome struct {
	id  string
	err error
	at  time.Time
}

// waitAsync runs Wait for caller in a goroutine and sends its outcome, tagged id, on out, which
// must have room for it so that the goroutine always ends.
func waitAsync(ctx context.Context, l *budget.Limiter, key string, ep fiber.Endpoint, caller, id string, out chan<- outcome) {
	go func() {
		err := l.Wait(budget.WithCaller(ctx, caller), key, ep)
		out <- outcome{id: id, err: err, at: time.Now()}
	}()
}

// bucketStats returns the stats of one bucket, or the zero value when it does not exist.
func bucketStats(l *budget.Limiter, key string, ep fiber.Endpoint) budget.BucketStats {
	for _, b := range l.Stats().Buckets {
		if b.KeyID == key && b.Endpoint == ep {
			return b
		}
	}
	return budget.BucketStats{}
}

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu      sync.Mutex // guards records
	records []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}

func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// find returns the attributes of the first record at level whose message is msg.
func (h *logRecorder) find(level slog.Level, msg string) (map[string]string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.records {
		if r.Level != level || r.Message != msg {
			continue
		}
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.String()
			return true
		})
		return attrs, true
	}
	return nil, false
}
