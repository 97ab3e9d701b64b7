package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	cdv1 "github.com/fibergate/fibergate/gen/fibergate/contactdetails/v1"
	"github.com/fibergate/fibergate/internal/fiber"
	"github.com/fibergate/fibergate/internal/health"
	"github.com/fibergate/fibergate/internal/storage"
)

var errRefused = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

// fakeHealth is a StoreHealth whose verdicts the test sets: Up answers up; Failed marks an
// error unavailable when down is true.
type fakeHealth struct {
	mu       sync.Mutex // guards up, down, failures
	up, down bool
	failures []error // the errors Failed was given
}

func (h *fakeHealth) Up() (bool, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.up, nil
}

func (h *fakeHealth) Failed(_ context.Context, err error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failures = append(h.failures, err)
	if h.down {
		return fmt.Errorf("%w: %w", health.ErrStoreUnavailable, err)
	}
	return err
}

// refusingRequests is a RequestStore whose claims fail with errRefused.
type refusingRequests struct{ RequestStore }

func (refusingRequests) ClaimRequest(context.Context, storage.Request) (storage.Request, bool, error) {
	return storage.Request{}, false, errRefused
}

// countingStarter counts the starts sent; it fails them all.
type countingStarter struct {
	mu     sync.Mutex // guards starts
	starts int
}

func (c *countingStarter) Start(context.Context, string, fiber.StartRequest) (*fiber.StartResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.starts++
	return nil, errors.New("not in this test")
}

// TestStartBatchSendsNothingWhileTheStoreIsDown: a start, with a request id or without, is
// refused with ErrStoreUnavailable while the store is known down, and so is one whose claim
// of its request id fails and finds the store down; neither reaches Fiber. A claim that fails
// while the store answers keeps its error.
func TestStartBatchSendsNothingWhileTheStoreIsDown(t *testing.T) {
	req := func(id string) *cdv1.StartBatchRequest {
		return &cdv1.StartBatchRequest{RequestId: id, PersonDetails: []*cdv1.PersonDetails{
			{LinkedinUrl: &cdv1.LinkedInUrl{Value: "https://www.linkedin.com/in/jake"}},
		}}
	}
	const id = "7d444840-9dc0-11d1-b245-5ffdce74fad2"
	tests := []struct {
		name     string
		up, down bool
		req      *cdv1.StartBatchRequest
		want     error // matched with errors.Is
		failures int   // calls of Failed
	}{
		{"known down, no request id", false, true, req(""), health.ErrStoreUnavailable, 0},
		{"known down, a request id", false, true, req(id), health.ErrStoreUnavailable, 0},
		{"the claim finds it down", true, true, req(id), health.ErrStoreUnavailable, 1},
		{"the claim fails, the store answers", true, false, req(id), errRefused, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &fakeHealth{up: tt.up, down: tt.down}
			starter := &countingStarter{}
			svc := New(Config{
				Fiber: starter, Requests: refusingRequests{}, Health: h,
				DefaultAPIKey: "sk-test", Logger: slog.New(slog.DiscardHandler),
			})
			_, err := svc.StartBatch(t.Context(), tt.req)
			if !errors.Is(err, tt.want) {
				t.Errorf("StartBatch: %v, want %v", err, tt.want)
			}
			if tt.want == errRefused && errors.Is(err, health.ErrStoreUnavailable) {
				t.Errorf("StartBatch: %v, want no ErrStoreUnavailable while the store answers", err)
			}
			if starter.starts != 0 {
				t.Errorf("%d starts sent to Fiber, want none", starter.starts)
			}
			if len(h.failures) != tt.failures || (tt.failures > 0 && !errors.Is(h.failures[0], errRefused)) {
				t.Errorf("Failed was told of %v, want %d failures of the claim", h.failures, tt.failures)
			}
		})
	}
}
